//! Which streams this sidecar serves, and on what terms it relays their vouchers.
//!
//! **Assignment.** A creator assigns a stream to a sidecar on chain: `create_stream` or
//! `update_stream` names the sidecar's relayer account (its `/config.json` says which) as the
//! stream's `relayer`, and the sidecar's URL as its `endpoint`. A sidecar with a relayer key
//! serves (publishing, watching, and so vouchers) only the streams that name its account, so
//! nobody can make it acknowledge, store and pay fees to settle the vouchers of a stream whose
//! creator never chose it. A sidecar without a relayer key settles nothing and serves every
//! stream (a lab setup; it warns at start).
//!
//! **Paid relaying.** Each settled voucher costs the relayer its part of a `settle_batch` fee.
//! The relayer is paid on chain, per second settled, by a share of the stream's revenue: the
//! creator lists the relayer account among the stream's collaborators. The operator states its
//! terms, a lowest price per second ([`Terms::min_price_per_second`]) and a lowest share for the
//! relayer ([`Terms::min_relayer_share`]), and streams below them are refused, with a message
//! saying which term is missing. Free streams (price 0) are never put in a batch, so they cost
//! no fee; they are served only when the operator's lowest price is 0.
//!
//! A voucher goes into a batch only once it settles at least [`Terms::min_settle_seconds`] new
//! seconds (the relay's [`crate::billing::relay::SettlePolicy`]), so each settled voucher is
//! worth at least `S × price × (1 − platform fee) × share` to the relayer: terms with that at or
//! above the per-voucher part of a batch fee make every voucher pay for itself, whatever a
//! viewer sends (one new second per round from thousands of cheap sessions waits until it is
//! worth it). docs/SIDECAR.md works an example. What the terms do not cover is each session's
//! end: its last seconds below `S`, settled once as the session is closed.
//!
//! **Edges.** A stream's audience can outgrow one sidecar: its creator publishes to the
//! sidecar it named (the *origin*), and *edge* sidecars each pull the stream from there once
//! and serve their own viewers (docs/SIDECAR.md, "Scaling out"). An edge serves the streams
//! that name one of the origins it is configured for ([`Terms::serve_for`]): their viewers
//! watch and pay there, and the edge settles their vouchers with its own key, paid as one of
//! the stream's collaborators (its own share is held to [`Terms::min_relayer_share`]). Nobody
//! publishes to an edge: the stream's media comes from its origin.
//!
//! The rule is checked when a member joins (`publish`, `watch`, a WHIP/WHEP offer, a publish
//! token): a creator who reassigns a stream later does not cut off members already there.

use super::rights::Refusal;
use crate::chain::view::StreamEntry;
use sp_runtime::Permill;
use vilokanam_chain_client::{AccountId, Balance};

/// The streams a sidecar serves: see the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Terms {
	/// The relayer account streams must name; `None`: every stream (no relayer key).
	pub relayer: Option<AccountId>,
	/// The lowest price per second served.
	pub min_price_per_second: Balance,
	/// The lowest share of the creator's part the stream's split must give the relayer.
	pub min_relayer_share: Permill,
	/// The fewest new seconds a voucher must settle to be put in a batch.
	pub min_settle_seconds: u64,
	/// The origins' relayer accounts whose streams this sidecar serves as an edge.
	pub serve_for: Vec<AccountId>,
}

/// How a served stream is served here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Serving {
	/// Its creator named this sidecar (or it has no relayer key): it publishes here.
	Origin,
	/// It names `origin`, which this sidecar is an edge of: its media comes from there.
	Edge {
		/// The origin's relayer account.
		origin: AccountId,
	},
}

impl Terms {
	/// Whether this sidecar serves `stream`, and how, by its terms as of the last block read.
	pub fn serves(&self, stream: &StreamEntry) -> Result<Serving, Refusal> {
		let Some(ours) = &self.relayer else { return Ok(Serving::Origin) };
		let relaying = stream.relaying();
		let (serving, share) = match &relaying.relayer {
			Some(r) if r == ours => (Serving::Origin, relaying.share_of(ours)),
			Some(r) if self.serve_for.contains(r) => {
				(Serving::Edge { origin: r.clone() }, relaying.share_of(ours))
			},
			_ => return Err(Refusal::NotAssigned(stream.id)),
		};
		if relaying.price_per_second < self.min_price_per_second {
			return Err(Refusal::BelowTerms(format!(
				"stream {} costs {} per second; this sidecar relays from {}",
				stream.id, relaying.price_per_second, self.min_price_per_second
			)));
		}
		if share < self.min_relayer_share {
			return Err(Refusal::BelowTerms(format!(
				"stream {} gives this sidecar's relayer {} ppm of its revenue; it relays for {} \
				 ppm",
				stream.id,
				share.deconstruct(),
				self.min_relayer_share.deconstruct()
			)));
		}
		Ok(serving)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use vilokanam_chain_client::StreamStatus;

	fn acct(b: u8) -> AccountId {
		AccountId::new([b; 32])
	}

	#[test]
	fn only_streams_that_name_this_relayer_on_its_terms_are_served() {
		let terms = Terms {
			relayer: Some(acct(9)),
			min_price_per_second: 10,
			min_relayer_share: Permill::from_percent(5),
			min_settle_seconds: 1,
			serve_for: Vec::new(),
		};
		let stream = |price, relayer: Option<u8>, share| {
			let s = StreamEntry::new(1, acct(1), price, StreamStatus::Live);
			match relayer {
				Some(r) => s.with_relayer(acct(r), Permill::from_percent(share)),
				None => s,
			}
		};
		assert!(terms.serves(&stream(10, Some(9), 5)).is_ok());
		assert!(terms.serves(&stream(1_000, Some(9), 50)).is_ok());
		assert!(matches!(terms.serves(&stream(10, None, 5)), Err(Refusal::NotAssigned(1))));
		assert!(matches!(terms.serves(&stream(10, Some(8), 5)), Err(Refusal::NotAssigned(1))));
		assert!(matches!(terms.serves(&stream(9, Some(9), 5)), Err(Refusal::BelowTerms(_))));
		assert!(matches!(terms.serves(&stream(0, Some(9), 5)), Err(Refusal::BelowTerms(_))));
		assert!(matches!(terms.serves(&stream(10, Some(9), 4)), Err(Refusal::BelowTerms(_))));
		// Without a relayer key, every stream (a lab sidecar that settles nothing).
		assert_eq!(Terms::default().serves(&stream(0, None, 0)).ok(), Some(Serving::Origin));
	}

	#[test]
	fn an_edge_serves_its_origins_streams_when_they_pay_the_edge_too() {
		// Relayer 9 is an edge of origin 7 only.
		let edge = Terms {
			relayer: Some(acct(9)),
			min_price_per_second: 10,
			min_relayer_share: Permill::from_percent(5),
			min_settle_seconds: 1,
			serve_for: vec![acct(7)],
		};
		let named = |relayer: u8, edge_share: Option<u32>| {
			let s = StreamEntry::new(1, acct(1), 10, StreamStatus::Live)
				.with_relayer(acct(relayer), Permill::from_percent(20));
			match edge_share {
				Some(p) => s.with_collaborator(acct(9), Permill::from_percent(p)),
				None => s,
			}
		};
		let origin = Some(Serving::Edge { origin: acct(7) });
		assert_eq!(edge.serves(&named(7, Some(5))).ok(), origin);
		// The origin's share is not the edge's: an edge that is not paid refuses.
		assert!(matches!(edge.serves(&named(7, None)), Err(Refusal::BelowTerms(_))));
		assert!(matches!(edge.serves(&named(7, Some(4))), Err(Refusal::BelowTerms(_))));
		// Another origin's stream is not assigned here.
		assert!(matches!(edge.serves(&named(6, Some(50))), Err(Refusal::NotAssigned(1))));
		// Its own streams it serves as an origin.
		assert_eq!(edge.serves(&named(9, None)).ok(), Some(Serving::Origin));
	}
}
