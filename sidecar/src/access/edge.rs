//! Edge sidecars authenticating to their origin.
//!
//! An edge pulls a stream from its origin with `POST /edge/{stream}` and the header
//! `Authorization: Vilokanam-Edge <account>.<unix seconds>.<signature hex>`. The account is the
//! edge's relayer account (SS58); the sr25519 signature by its key covers the SCALE encoding of
//! `(*b"vilokanam/edge/v1", genesis, audience: Vec<u8>, stream_id: u64, unix_secs: u64)`:
//!
//! - the genesis hash keeps a header for one chain's origin useless on another's;
//! - the audience (the origin's public origin, as for logins, [`super::identity`]) keeps one
//!   origin from replaying it to another;
//! - the stream keeps it from pulling any other stream;
//! - the time bounds it to [`EDGE_SKEW_SECS`] either way of the origin's clock, and the origin
//!   refuses a signature it saw within [`EDGE_REPLAY_SECS`], so an overheard header is worth
//!   nothing.
//!
//! Only the accounts the origin's operator lists (`--edge-account`) are edges: any other
//! signer is refused before its signature is checked ([`EdgeRefusal::NotAnEdge`]). The list is
//! re-read on SIGHUP ([`EdgeAccounts::replace`]); an edge taken off it loses its pull at the
//! next gate poll ([`super::rights::EdgeGate`]).

use crate::protocol::{self, Crypto};
use codec::Encode;
use sp_core::{sr25519, Pair, H256};
use std::{
	collections::HashMap,
	sync::{Mutex, RwLock},
};
use vilokanam_chain_client::{AccountId, StreamId};

/// The domain tag of an edge's signed payload.
pub const EDGE_TAG: [u8; 17] = *b"vilokanam/edge/v1";
/// The `Authorization` scheme.
pub const EDGE_SCHEME: &str = "Vilokanam-Edge";
/// How far an edge's clock may be from the origin's, seconds, either way.
pub const EDGE_SKEW_SECS: u64 = 30;
/// How long the origin remembers a signature it accepted, seconds: longer than the window a
/// timestamp is accepted in, so a header cannot be used twice.
pub const EDGE_REPLAY_SECS: u64 = 2 * EDGE_SKEW_SECS;

/// Why an edge's pull is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EdgeRefusal {
	/// The header is missing or is not `Vilokanam-Edge <account>.<secs>.<hex>`.
	#[error("expected Authorization: Vilokanam-Edge <account>.<unix seconds>.<signature hex>")]
	Malformed,
	/// The timestamp is outside the accepted window.
	#[error("the edge's timestamp is more than {EDGE_SKEW_SECS} s from the origin's clock")]
	Stale,
	/// The account is not one of this origin's edges.
	#[error("this account is not an edge of this sidecar")]
	NotAnEdge,
	/// The signature does not sign this chain, origin, stream and time by the account.
	#[error("the signature does not sign this pull")]
	BadSignature,
	/// The same signature was accepted before.
	#[error("this signature was already used")]
	Replayed,
}

/// The bytes an edge signs to pull `stream_id` from the origin named `audience`.
pub fn edge_payload(
	genesis: &H256,
	audience: &str,
	stream_id: StreamId,
	unix_secs: u64,
) -> Vec<u8> {
	(EDGE_TAG, genesis, audience.as_bytes(), stream_id, unix_secs).encode()
}

/// The `Authorization` value an edge with `key` sends to pull `stream_id` at `unix_secs`.
pub fn authorization(
	key: &sr25519::Pair,
	genesis: &H256,
	audience: &str,
	stream_id: StreamId,
	unix_secs: u64,
) -> String {
	use sp_runtime::traits::IdentifyAccount;
	let account: AccountId = sp_runtime::MultiSigner::from(key.public()).into_account();
	let signature = key.sign(&edge_payload(genesis, audience, stream_id, unix_secs));
	format!(
		"{EDGE_SCHEME} {}.{unix_secs}.{}",
		protocol::account_to_ss58(&account),
		hex::encode(signature.0)
	)
}

/// The origin's side: which accounts are edges, and the signatures it has seen.
#[derive(Debug, Default)]
pub struct EdgeAccounts {
	accounts: RwLock<Vec<AccountId>>,
	/// Accepted signatures → when they may be forgotten (unix seconds).
	seen: Mutex<HashMap<[u8; 64], u64>>,
}

impl EdgeAccounts {
	/// The edges `accounts`.
	pub fn new(accounts: Vec<AccountId>) -> Self {
		Self { accounts: RwLock::new(accounts), seen: Mutex::default() }
	}

	/// Whether `account` is one of the edges.
	pub fn contains(&self, account: &AccountId) -> bool {
		self.accounts.read().unwrap_or_else(|p| p.into_inner()).contains(account)
	}

	/// How many there are.
	pub fn len(&self) -> usize {
		self.accounts.read().unwrap_or_else(|p| p.into_inner()).len()
	}

	/// Whether there are none (then `/edge/…` is refused to everyone).
	pub fn is_empty(&self) -> bool {
		self.len() == 0
	}

	/// The operator changed the list (SIGHUP): from now on only `accounts` are edges.
	pub fn replace(&self, accounts: Vec<AccountId>) {
		*self.accounts.write().unwrap_or_else(|p| p.into_inner()) = accounts;
	}

	/// Check the `Authorization` value `header` of a pull of `stream_id`, at `now` (unix
	/// seconds), against this origin's `audiences` on the chain `genesis`: the edge's account.
	/// Cheap checks come first: a stranger costs no signature check.
	pub fn check(
		&self,
		header: Option<&str>,
		stream_id: StreamId,
		now: u64,
		audiences: &[String],
		genesis: &H256,
	) -> Result<AccountId, EdgeRefusal> {
		let (account, secs, signature) = parse(header.ok_or(EdgeRefusal::Malformed)?)?;
		if secs.abs_diff(now) > EDGE_SKEW_SECS {
			return Err(EdgeRefusal::Stale);
		}
		if !self.contains(&account) {
			return Err(EdgeRefusal::NotAnEdge);
		}
		let signs = |audience: &String| {
			let payload = edge_payload(genesis, audience, stream_id, secs);
			super::identity::verify(Crypto::Sr25519, &signature, &payload, &account)
		};
		if !audiences.iter().any(signs) {
			return Err(EdgeRefusal::BadSignature);
		}
		let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
		// Only listed edges' valid signatures get here, so the map stays as small as their
		// pulls over a minute.
		seen.retain(|_, forget_at| *forget_at > now);
		if seen.insert(signature, now + EDGE_REPLAY_SECS).is_some() {
			return Err(EdgeRefusal::Replayed);
		}
		Ok(account)
	}
}

fn parse(header: &str) -> Result<(AccountId, u64, [u8; 64]), EdgeRefusal> {
	let (scheme, credentials) = header.trim().split_once(' ').ok_or(EdgeRefusal::Malformed)?;
	if !scheme.eq_ignore_ascii_case(EDGE_SCHEME) {
		return Err(EdgeRefusal::Malformed);
	}
	let mut parts = credentials.trim().split('.');
	let (Some(account), Some(secs), Some(signature), None) =
		(parts.next(), parts.next(), parts.next(), parts.next())
	else {
		return Err(EdgeRefusal::Malformed);
	};
	let account = protocol::parse_account(account).ok_or(EdgeRefusal::Malformed)?;
	let secs = secs.parse().map_err(|_| EdgeRefusal::Malformed)?;
	let mut raw = [0u8; 64];
	hex::decode_to_slice(signature, &mut raw).map_err(|_| EdgeRefusal::Malformed)?;
	Ok((account, secs, raw))
}

#[cfg(test)]
mod tests {
	use super::*;

	const NOW: u64 = 1_800_000_000;

	fn key(seed: &str) -> sr25519::Pair {
		sr25519::Pair::from_string(seed, None).unwrap()
	}

	fn account(pair: &sr25519::Pair) -> AccountId {
		AccountId::new(pair.public().0)
	}

	fn audiences() -> Vec<String> {
		vec!["https://origin.example".into(), "http://10.0.0.1:7070".into()]
	}

	#[test]
	fn a_listed_edge_pulls_once_per_signature_within_the_window() {
		let (edge, genesis) = (key("//Edge"), H256::repeat_byte(1));
		let edges = EdgeAccounts::new(vec![account(&edge)]);
		let check =
			|h: &str, stream, now| edges.check(Some(h), stream, now, &audiences(), &genesis);
		// Either of the origin's names.
		let header = authorization(&edge, &genesis, "http://10.0.0.1:7070", 4, NOW);
		assert_eq!(check(&header, 4, NOW + EDGE_SKEW_SECS), Ok(account(&edge)));
		assert_eq!(check(&header, 4, NOW + 1), Err(EdgeRefusal::Replayed));
		// Forgotten only once it is stale anyway.
		assert_eq!(check(&header, 4, NOW + EDGE_REPLAY_SECS), Err(EdgeRefusal::Stale));
		let later = authorization(&edge, &genesis, "https://origin.example", 4, NOW + 100);
		assert_eq!(check(&later, 4, NOW + 100 - EDGE_SKEW_SECS), Ok(account(&edge)));
	}

	#[test]
	fn strangers_stale_or_misdirected_headers_are_refused() {
		let (edge, stranger, genesis) = (key("//Edge"), key("//Stranger"), H256::repeat_byte(1));
		let edges = EdgeAccounts::new(vec![account(&edge)]);
		let check = |h: Option<&str>, stream| edges.check(h, stream, NOW, &audiences(), &genesis);
		let sign =
			|k, g: &H256, audience, stream, secs| authorization(k, g, audience, stream, secs);
		let origin = "https://origin.example";
		assert_eq!(check(None, 4), Err(EdgeRefusal::Malformed));
		for bad in ["Bearer x", "Vilokanam-Edge a.b.c", "Vilokanam-Edge x.1.00.00", ""] {
			assert_eq!(check(Some(bad), 4), Err(EdgeRefusal::Malformed), "{bad}");
		}
		// A signer not listed, whatever it signs.
		let h = sign(&stranger, &genesis, origin, 4, NOW);
		assert_eq!(check(Some(&h), 4), Err(EdgeRefusal::NotAnEdge));
		// Too old, too far ahead.
		for secs in [NOW - EDGE_SKEW_SECS - 1, NOW + EDGE_SKEW_SECS + 1] {
			let h = sign(&edge, &genesis, origin, 4, secs);
			assert_eq!(check(Some(&h), 4), Err(EdgeRefusal::Stale));
		}
		// Signed for another stream, another origin, another chain.
		let h = sign(&edge, &genesis, origin, 5, NOW);
		assert_eq!(check(Some(&h), 4), Err(EdgeRefusal::BadSignature));
		let h = sign(&edge, &genesis, "https://elsewhere.example", 4, NOW);
		assert_eq!(check(Some(&h), 4), Err(EdgeRefusal::BadSignature));
		let h = sign(&edge, &H256::repeat_byte(2), origin, 4, NOW);
		assert_eq!(check(Some(&h), 4), Err(EdgeRefusal::BadSignature));
		// A listed account with another key's signature.
		let forged = sign(&stranger, &genesis, origin, 4, NOW).replace(
			&protocol::account_to_ss58(&account(&stranger)),
			&protocol::account_to_ss58(&account(&edge)),
		);
		assert_eq!(check(Some(&forged), 4), Err(EdgeRefusal::BadSignature));
		// Nothing refused was remembered: the edge's own header still works once.
		let h = sign(&edge, &genesis, origin, 4, NOW);
		assert_eq!(check(Some(&h), 4), Ok(account(&edge)));
	}
}
