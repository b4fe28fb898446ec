//! A room's packets since its publisher's most recent keyframe (its group of pictures), so
//! that a viewer who connects starts on them at once instead of waiting for a keyframe it asks
//! for: with requests coalesced to one per [`crate::KEYFRAME_REQUEST_INTERVAL`], a viewer in a
//! join storm would otherwise wait up to that long.
//!
//! The price is delay: the viewer is sent the group in one burst and plays from its keyframe,
//! as old as the group is. So a group is used only while younger than the configured age;
//! older, the viewer asks for a fresh keyframe as before. Audio since the keyframe is kept
//! with the video, so the two start together.

use super::Forward;
use std::time::{Duration, Instant};
use str0m::media::MediaKind;

/// The most packets kept: about two seconds of 2 Mbit/s video and its audio. A longer group
/// is dropped until the next keyframe (a viewer then asks for one).
pub(crate) const GOP_MAX: usize = 1024;
/// Keyframes of several simulcast layers, asked for together, arrive within this of each
/// other: one group, not one per layer (the last would drop the others).
const LAYER_SPREAD: Duration = Duration::from_millis(300);

#[derive(Default)]
pub(crate) struct Gop {
	/// Up to this old, a group is handed to a new viewer; zero: no group is kept.
	max_age: Duration,
	packets: Vec<Forward>,
	/// When its first keyframe arrived; `None`: no group (none yet, or it grew too long).
	started: Option<Instant>,
}

impl Gop {
	pub(crate) fn new(max_age: Duration) -> Self {
		Self { max_age, ..Self::default() }
	}

	/// Whether groups are kept at all (the room then takes its publisher's packets even
	/// without viewers).
	pub(crate) fn enabled(&self) -> bool {
		!self.max_age.is_zero()
	}

	/// A packet of the room's publisher, in arrival order.
	pub(crate) fn push(&mut self, f: &Forward) {
		if !self.enabled() {
			return;
		}
		if f.kind == MediaKind::Video && f.keyframe {
			let same_group =
				self.started.is_some_and(|t| f.arrival.saturating_duration_since(t) < LAYER_SPREAD);
			if !same_group {
				self.packets.clear();
				self.started = Some(f.arrival);
			}
		}
		if self.started.is_none() {
			return;
		}
		if self.packets.len() >= GOP_MAX {
			self.clear();
			return;
		}
		self.packets.push(f.clone());
	}

	/// The group, if one is kept and its keyframe is at most the configured age at `now`.
	pub(crate) fn fresh(&self, now: Instant) -> Option<&[Forward]> {
		let started = self.started?;
		(now.saturating_duration_since(started) <= self.max_age).then_some(&self.packets[..])
	}

	/// Forget the group (a new publisher: its packets are another epoch's).
	pub(crate) fn clear(&mut self) {
		self.packets.clear();
		self.started = None;
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn packet(
		kind: MediaKind,
		layer: Option<&str>,
		seq: u64,
		keyframe: bool,
		at: Instant,
	) -> Forward {
		Forward::for_test(kind, layer, seq, keyframe, at)
	}

	fn seqs(g: &Gop, now: Instant) -> Option<Vec<u64>> {
		g.fresh(now).map(|p| p.iter().map(|f| f.seq).collect())
	}

	#[test]
	fn a_group_starts_at_a_keyframe_and_is_handed_out_only_while_young() {
		let t0 = Instant::now();
		let at = |ms| t0 + Duration::from_millis(ms);
		let mut g = Gop::new(Duration::from_millis(1000));
		// Nothing before the first keyframe.
		g.push(&packet(MediaKind::Video, None, 1, false, at(0)));
		g.push(&packet(MediaKind::Audio, None, 500, false, at(5)));
		assert_eq!(seqs(&g, at(10)), None);
		g.push(&packet(MediaKind::Video, None, 2, true, at(20)));
		g.push(&packet(MediaKind::Audio, None, 501, false, at(25)));
		g.push(&packet(MediaKind::Video, None, 3, false, at(50)));
		assert_eq!(seqs(&g, at(60)), Some(vec![2, 501, 3]), "video and audio since the keyframe");
		assert_eq!(seqs(&g, at(1020)), Some(vec![2, 501, 3]), "exactly the age allowed");
		assert_eq!(seqs(&g, at(1021)), None, "older: the viewer asks for a keyframe");
		// The next keyframe starts a new group.
		g.push(&packet(MediaKind::Video, None, 4, true, at(2000)));
		assert_eq!(seqs(&g, at(2000)), Some(vec![4]));
	}

	#[test]
	fn simulcast_keyframes_asked_together_are_one_group() {
		let t0 = Instant::now();
		let at = |ms| t0 + Duration::from_millis(ms);
		let mut g = Gop::new(Duration::from_millis(1000));
		g.push(&packet(MediaKind::Video, Some("l"), 10, true, at(0)));
		g.push(&packet(MediaKind::Video, Some("h"), 20, true, at(40)));
		g.push(&packet(MediaKind::Video, Some("l"), 11, false, at(70)));
		assert_eq!(seqs(&g, at(100)), Some(vec![10, 20, 11]));
		// A keyframe well after the last group's start begins another.
		g.push(&packet(MediaKind::Video, Some("h"), 21, true, at(400)));
		assert_eq!(seqs(&g, at(400)), Some(vec![21]));
	}

	#[test]
	fn a_group_too_long_is_dropped_until_the_next_keyframe_and_zero_keeps_none() {
		let t0 = Instant::now();
		let mut g = Gop::new(Duration::from_secs(10));
		g.push(&packet(MediaKind::Video, None, 0, true, t0));
		for seq in 1..GOP_MAX as u64 {
			g.push(&packet(MediaKind::Video, None, seq, false, t0));
		}
		assert_eq!(g.fresh(t0).map(<[_]>::len), Some(GOP_MAX));
		g.push(&packet(MediaKind::Video, None, GOP_MAX as u64, false, t0));
		assert!(g.fresh(t0).is_none(), "one past the bound: no group");
		g.push(&packet(MediaKind::Video, None, 5000, false, t0));
		assert!(g.fresh(t0).is_none(), "and none until a keyframe");
		g.push(&packet(MediaKind::Video, None, 5001, true, t0));
		assert_eq!(seqs(&g, t0), Some(vec![5001]));

		let mut off = Gop::new(Duration::ZERO);
		assert!(!off.enabled());
		off.push(&packet(MediaKind::Video, None, 1, true, t0));
		assert!(off.fresh(t0).is_none());
	}
}
