//! Prometheus metrics, served as text on `GET /metrics`.
//!
//! [`Metrics`] is a cheap clone: every field is a handle onto shared atomics.

use prometheus::{
	Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
	TextEncoder,
};

/// The sidecar's metrics, all prefixed `vilokanam_sidecar_`.
#[derive(Clone)]
pub struct Metrics {
	/// The registry every metric below is registered in.
	pub registry: Registry,
	/// Open WebSocket connections.
	pub connections: IntGauge,
	/// Rooms (streams with at least one member).
	pub rooms: IntGauge,
	/// Authenticated connections.
	pub authenticated_peers: IntGauge,
	/// Heartbeats acknowledged (verified and durably stored).
	pub heartbeats_accepted: IntCounter,
	/// Heartbeats refused, by reason (the error code).
	pub heartbeats_rejected: IntCounterVec,
	/// Seconds from receiving a heartbeat to sending its ack.
	pub ack_latency: Histogram,
	/// Chat messages posted.
	pub chat_messages: IntCounter,
	/// Outgoing messages dropped because a member's queue was full (a slow client).
	pub dropped_pushes: IntCounter,
	/// `settle_batch` extrinsics submitted by the relay.
	pub relay_batches_submitted: IntCounter,
	/// Vouchers the relay saw settled on chain.
	pub relay_vouchers_settled: IntCounter,
	/// Vouchers the chain rejected, by reason.
	pub relay_vouchers_rejected: IntCounterVec,
	/// Vouchers submitted and not yet final.
	pub relay_in_flight: IntGauge,
	/// Vouchers a round left for later: below `--min-settle-seconds` new seconds.
	pub relay_vouchers_deferred: IntCounter,
	/// Sessions whose last seconds below `--min-settle-seconds` the relay settled and closed
	/// (no settlement for `--settle-tail-blocks`).
	pub relay_tails: IntCounter,
	/// `close_session` extrinsics the relay submitted as a stream's relayer (releases).
	pub relay_releases_submitted: IntCounter,
	/// Relay failures that are retried in a later round, by kind (`rpc`, `store`, `rejected`,
	/// `dropped`, `invalid`, `timeout`, `lost`, `extrinsic_failed`, `close_intent`).
	pub relay_errors: IntCounterVec,
	/// Connections and requests turned away at the door, by reason (`full`,
	/// `too_many_from_ip`, `connecting_too_fast`, `too_many_requests`).
	pub turned_away: IntCounterVec,
	/// At an origin, edges' pulls (`POST /edge/…`), by result (`accepted`, `refused`).
	pub edge_pulls: IntCounterVec,
	/// At an edge, pulls from its origin, by result (`answered`: the origin answered the offer;
	/// `failed`: it refused, or could not be reached).
	pub origin_pulls: IntCounterVec,
	/// Bytes of recordings sent to replay viewers (`GET /replay/…`), as their vouchers allowed.
	pub replay_bytes: IntCounter,
	/// The SFU's (`vilokanam-sfu`), in this registry.
	pub media: vilokanam_sfu::SfuMetrics,
}

impl Metrics {
	/// Create and register all metrics in a new registry.
	pub fn new() -> Result<Self, prometheus::Error> {
		let registry = Registry::new_custom(Some("vilokanam_sidecar".into()), None)?;
		let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
			let g = IntGauge::new(name, help)?;
			registry.register(Box::new(g.clone()))?;
			Ok(g)
		};
		let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
			let c = IntCounter::new(name, help)?;
			registry.register(Box::new(c.clone()))?;
			Ok(c)
		};
		let counter_vec =
			|name: &str, help: &str, label: &str| -> Result<IntCounterVec, prometheus::Error> {
				let c = IntCounterVec::new(Opts::new(name, help), &[label])?;
				registry.register(Box::new(c.clone()))?;
				Ok(c)
			};
		let ack_latency = Histogram::with_opts(
			HistogramOpts::new(
				"heartbeat_ack_latency_seconds",
				"Seconds from receiving a heartbeat to sending its ack",
			)
			.buckets(vec![
				0.000_5, 0.001, 0.002, 0.005, 0.010, 0.020, 0.050, 0.100, 0.250, 0.500, 1.0,
			]),
		)?;
		registry.register(Box::new(ack_latency.clone()))?;
		Ok(Self {
			connections: gauge("connections", "Open WebSocket connections")?,
			rooms: gauge("rooms", "Rooms with at least one member")?,
			authenticated_peers: gauge("authenticated_peers", "Authenticated connections")?,
			heartbeats_accepted: counter(
				"heartbeats_accepted_total",
				"Heartbeats verified, stored and acknowledged",
			)?,
			heartbeats_rejected: counter_vec(
				"heartbeats_rejected_total",
				"Heartbeats refused, by reason",
				"reason",
			)?,
			ack_latency,
			chat_messages: counter("chat_messages_total", "Chat messages posted")?,
			dropped_pushes: counter(
				"dropped_pushes_total",
				"Outgoing messages dropped because a client's queue was full",
			)?,
			relay_batches_submitted: counter(
				"relay_batches_submitted_total",
				"settle_batch extrinsics submitted",
			)?,
			relay_vouchers_settled: counter(
				"relay_vouchers_settled_total",
				"Vouchers settled on chain",
			)?,
			relay_vouchers_rejected: counter_vec(
				"relay_vouchers_rejected_total",
				"Vouchers rejected on chain, by reason",
				"reason",
			)?,
			relay_in_flight: gauge("relay_in_flight", "Vouchers submitted and not yet final")?,
			relay_vouchers_deferred: counter(
				"relay_vouchers_deferred_total",
				"Vouchers left for a later round: too few new seconds to pay for their fee",
			)?,
			relay_tails: counter(
				"relay_tails_total",
				"Sessions whose last seconds were settled below the minimum, and then closed",
			)?,
			turned_away: counter_vec(
				"turned_away_total",
				"HTTP connections and costly requests turned away, by reason",
				"reason",
			)?,
			relay_releases_submitted: counter(
				"relay_releases_submitted_total",
				"close_session extrinsics submitted as a stream's relayer",
			)?,
			relay_errors: counter_vec(
				"relay_errors_total",
				"Relay failures retried in a later round, by kind",
				"kind",
			)?,
			edge_pulls: counter_vec(
				"edge_pulls_total",
				"At an origin, edge sidecars' pulls of a stream, by result",
				"result",
			)?,
			origin_pulls: counter_vec(
				"origin_pulls_total",
				"At an edge, pulls of a stream from its origin, by result",
				"result",
			)?,
			replay_bytes: counter(
				"replay_bytes_total",
				"Bytes of recordings sent to replay viewers, paced by their vouchers",
			)?,
			media: vilokanam_sfu::SfuMetrics::register(&registry)?,
			registry,
		})
	}

	/// All metrics in the Prometheus text format.
	pub fn encode(&self) -> String {
		let mut buf = Vec::new();
		if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
			tracing::warn!("cannot encode metrics: {e}");
		}
		String::from_utf8(buf).unwrap_or_default()
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn metrics_encode() {
		let m = Metrics::new().unwrap();
		m.heartbeats_accepted.inc();
		m.heartbeats_rejected.with_label_values(&["stale"]).inc();
		m.ack_latency.observe(0.003);
		m.relay_vouchers_rejected.with_label_values(&["AheadOfTime"]).inc_by(2);
		let text = m.encode();
		assert!(text.contains("vilokanam_sidecar_heartbeats_accepted_total 1"), "{text}");
		assert!(text.contains(r#"vilokanam_sidecar_heartbeats_rejected_total{reason="stale"} 1"#));
		assert!(text.contains("vilokanam_sidecar_heartbeat_ack_latency_seconds_bucket"));
		assert!(text.contains(
			r#"vilokanam_sidecar_relay_vouchers_rejected_total{reason="AheadOfTime"} 2"#
		));
	}
}
