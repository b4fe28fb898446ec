//! Accounts, calls and event lookups on the runtime's own types, shared by the node's, the chain
//! client's and the sidecar's end-to-end tests (each submits with its own client).

use frame_support::{traits::ConstU32, BoundedVec};
use pallet_streams::StreamId;
use pallet_ticks::SessionId;
use sp_core::{sr25519, Pair};
use sp_runtime::{traits::IdentifyAccount, MultiSigner};
use vilokanam_runtime::{AccountId, Balance, RuntimeCall, RuntimeEvent};

/// The category every test stream is filed under (created by [`governance_calls`]).
pub const CATEGORY: u32 = 1;

/// The sr25519 key of a development URI (`//Alice`, `//Charlie//page`…).
pub fn pair(uri: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(uri, None).expect("a dev URI")
}

/// The account of a key.
pub fn account(p: &sr25519::Pair) -> AccountId {
	MultiSigner::from(p.public()).into_account()
}

/// A test string as the bounded bytes a call takes.
pub fn bounded<const N: u32>(s: &str) -> BoundedVec<u8, ConstU32<N>> {
	s.as_bytes().to_vec().try_into().expect("test strings fit")
}

/// `call` as sudo (Alice on the dev chain).
pub fn sudo(call: RuntimeCall) -> RuntimeCall {
	RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(call) })
}

/// The sudo calls a fresh dev chain needs before streams: category [`CATEGORY`] ("Music") and a
/// platform fee of `fee_bps`.
pub fn governance_calls(fee_bps: u16) -> [RuntimeCall; 2] {
	[
		sudo(RuntimeCall::Streams(pallet_streams::Call::add_category {
			category: CATEGORY,
			name: bounded("Music"),
		})),
		sudo(RuntimeCall::Payouts(pallet_payouts::Call::set_platform_fee { bps: fee_bps })),
	]
}

/// A plain stream in [`CATEGORY`]: no metadata, tags or endpoint.
pub fn create_stream_call(title: &str, price: Balance, relayer: Option<AccountId>) -> RuntimeCall {
	RuntimeCall::Streams(pallet_streams::Call::create_stream {
		title: bounded(title),
		metadata: bounded(""),
		category: CATEGORY,
		tags: Default::default(),
		price_per_second: price,
		endpoint: None,
		relayer,
	})
}

/// The creator's call to go live.
pub fn go_live_call(stream_id: StreamId) -> RuntimeCall {
	RuntimeCall::Streams(pallet_streams::Call::go_live { stream_id })
}

/// The stream a `create_stream` created, from its events.
pub fn stream_created(events: &[RuntimeEvent]) -> StreamId {
	events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::Streams(pallet_streams::Event::StreamCreated { stream_id, .. }) => {
				Some(*stream_id)
			},
			_ => None,
		})
		.expect("StreamCreated among the events")
}

/// The session an `open_session` (of `viewer`, if given) opened, from its events.
pub fn session_opened(events: &[RuntimeEvent], viewer: Option<&AccountId>) -> SessionId {
	events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::Ticks(pallet_ticks::Event::SessionOpened {
				session_id,
				viewer: v,
				..
			}) if viewer.is_none_or(|w| w == v) => Some(*session_id),
			_ => None,
		})
		.expect("SessionOpened among the events")
}

/// `settle_batch`'s outcome from its events: vouchers accepted and rejected, the total paid.
pub fn batch_settled(events: &[RuntimeEvent]) -> (u32, u32, Balance) {
	events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::Ticks(pallet_ticks::Event::BatchSettled {
				accepted,
				rejected,
				total_paid,
			}) => Some((*accepted, *rejected, *total_paid)),
			_ => None,
		})
		.expect("BatchSettled among the events")
}
