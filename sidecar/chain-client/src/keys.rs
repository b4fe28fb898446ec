//! Storage keys of the values this client reads, computed from the runtime's own storage types
//! (pure: no externalities needed).

use crate::{AccountId, PageIndex, Runtime, SessionId, StreamId};

/// `System::Events` (private to frame-system; its key is the well-known prefix).
pub fn events() -> Vec<u8> {
	frame_support::storage::storage_prefix(b"System", b"Events").to_vec()
}

/// `System::Account(who)`: nonce and balances.
pub fn account(who: &AccountId) -> Vec<u8> {
	frame_system::Account::<Runtime>::hashed_key_for(who)
}

/// `Streams::Streams(id)`.
pub fn stream(id: StreamId) -> Vec<u8> {
	pallet_streams::Streams::<Runtime>::hashed_key_for(id)
}

/// `Streams::ReplayOffers(id)`: the price of the stream's replay, while its creator offers it.
pub fn replay_offer(id: StreamId) -> Vec<u8> {
	pallet_streams::ReplayOffers::<Runtime>::hashed_key_for(id)
}

/// `Streams::Banned(creator, viewer)`.
pub fn banned(creator: &AccountId, viewer: &AccountId) -> Vec<u8> {
	pallet_streams::Banned::<Runtime>::hashed_key_for(creator, viewer)
}

/// `Ticks::Sessions(id)`: the cold data of a session (its settlement state is in
/// [`session_page`]; [`crate::SessionKeys`] reads both).
pub fn session_info(id: SessionId) -> Vec<u8> {
	pallet_ticks::Sessions::<Runtime>::hashed_key_for(id)
}

/// `Ticks::SessionPages(page)`: the settlement state of sessions
/// `page × SESSIONS_PER_PAGE ..` (see [`pallet_ticks::page_of`]).
pub fn session_page(page: PageIndex) -> Vec<u8> {
	pallet_ticks::SessionPages::<Runtime>::hashed_key_for(page)
}

/// `Ticks::NextSessionId`.
pub fn next_session_id() -> Vec<u8> {
	pallet_ticks::NextSessionId::<Runtime>::hashed_key().to_vec()
}

/// `Timestamp::Now`.
pub fn now() -> Vec<u8> {
	pallet_timestamp::Now::<Runtime>::hashed_key().to_vec()
}

#[cfg(test)]
mod tests {
	use super::*;
	use codec::Encode;
	use frame_support::{Blake2_128Concat, StorageHasher, Twox128, Twox64Concat};

	fn prefix(pallet: &str, item: &str) -> Vec<u8> {
		[Twox128::hash(pallet.as_bytes()), Twox128::hash(item.as_bytes())].concat()
	}

	#[test]
	fn keys_follow_the_pallet_names_and_hashers() {
		assert_eq!(events(), prefix("System", "Events"));
		assert_eq!(now(), prefix("Timestamp", "Now"));
		assert_eq!(next_session_id(), prefix("Ticks", "NextSessionId"));
		let id = 7u64.encode();
		assert_eq!(
			session_info(7),
			[prefix("Ticks", "Sessions"), Twox64Concat::hash(&id)].concat()
		);
		// Twox64Concat appends the key itself.
		assert!(session_info(7).ends_with(&id));
		let page = 2u64.encode();
		assert_eq!(
			session_page(2),
			[prefix("Ticks", "SessionPages"), Twox64Concat::hash(&page)].concat()
		);
		let id = 3u64.encode();
		assert_eq!(stream(3), [prefix("Streams", "Streams"), Twox64Concat::hash(&id)].concat());
		let (a, b) = (AccountId::new([1; 32]), AccountId::new([2; 32]));
		let concat = |who: &AccountId| Blake2_128Concat::hash(&who.encode());
		assert_eq!(banned(&a, &b), [prefix("Streams", "Banned"), concat(&a), concat(&b)].concat());
		assert_eq!(account(&a), [prefix("System", "Account"), concat(&a)].concat());
	}
}
