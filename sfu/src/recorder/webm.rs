//! VP8 + Opus recordings as WebM, muxed by libwebm (the `webm` crate): a file browsers play
//! and seek (`<video src>`), with a cluster at every video keyframe and Cues at the end.
//!
//! Timing: each track's RTP clock (90 kHz video, 48 kHz Opus) is anchored at its first packet's
//! arrival, the video at the first keyframe (time 0). Without RTCP sender reports this is lip
//! sync to within the network's jitter, with no drift correction. libwebm wants timestamps
//! that never go back across tracks, so frames wait [`REORDER`] in a queue ordered by time
//! before they are written.
//!
//! Disk: a recording charges the directory's quota an upper bound of its size
//! ([`WebmFile::charged`]): header, each block with its header, each cluster with its cue
//! point. The file that [`WebmFile::finish`] leaves is never larger.

use super::{frames::Frame, Pushed};
use std::{
	cmp::Reverse,
	collections::BinaryHeap,
	fs::File,
	io::{BufWriter, Seek, SeekFrom, Write},
	path::{Path, PathBuf},
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};
use webm::mux::{AudioCodecId, AudioTrack, Segment, SegmentBuilder, VideoCodecId, VideoTrack};

/// How long frames wait to be written in time order across tracks.
const REORDER: Duration = Duration::from_millis(250);
/// An upper bound of what the file holds besides blocks and clusters: EBML header, seek head,
/// segment info, tracks (with Opus' codec private), and the void libwebm reserves.
const HEADER_BYTES: u64 = 1_024;
/// An upper bound of a SimpleBlock's own bytes: ID, size, track, timecode and flags.
const BLOCK_BYTES: u64 = 16;
/// An upper bound of a cluster's own bytes (ID, size, timecode, previous size) and of its cue
/// point.
const CLUSTER_BYTES: u64 = 96;
/// libwebm starts a cluster at each video keyframe, and at the latest when a block's offset
/// from the cluster's timecode would overflow its 16-bit field (32.767 s).
const MAX_CLUSTER_SPAN_NS: u64 = 30_000_000_000;

/// The Opus `CodecPrivate` (RFC 7845 §5.1 "OpusHead"): version 1, 2 channels (WebRTC signals
/// opus/48000/2), no pre-skip, 48 kHz, no gain, mapping family 0.
const OPUS_HEAD: [u8; 19] =
	[b'O', b'p', b'u', b's', b'H', b'e', b'a', b'd', 1, 2, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 0];

/// A track's RTP clock, extended past wraparounds, counted from its first packet.
struct RtpClock {
	rate: u64,
	last: u32,
	ticks: i64,
}

impl RtpClock {
	fn new(rate: u64, first: u32) -> Self {
		Self { rate, last: first, ticks: 0 }
	}

	/// Nanoseconds of `rtp` since the first packet (reordered packets may step back a little).
	fn ns(&mut self, rtp: u32) -> u64 {
		self.ticks += i64::from(rtp.wrapping_sub(self.last) as i32);
		self.last = rtp;
		(self.ticks.max(0) as u64).saturating_mul(1_000_000_000) / self.rate
	}
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
	ns: u64,
	/// Arrival order: ties keep it.
	order: u64,
	video: bool,
	key: bool,
	data: Vec<u8>,
}

/// A file writer that counts the file's size as libwebm writes and seeks.
struct Tracked {
	inner: BufWriter<File>,
	pos: u64,
	size: Arc<AtomicU64>,
}

impl Write for Tracked {
	fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
		let n = self.inner.write(buf)?;
		self.pos += n as u64;
		self.size.fetch_max(self.pos, Ordering::Relaxed);
		Ok(n)
	}

	fn flush(&mut self) -> std::io::Result<()> {
		self.inner.flush()
	}
}

impl Seek for Tracked {
	fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
		self.pos = self.inner.seek(to)?;
		Ok(self.pos)
	}
}

struct Muxer {
	segment: Segment<Tracked>,
	video: VideoTrack,
	audio: AudioTrack,
}

/// One publisher's WebM recording.
pub(super) struct WebmFile {
	path: PathBuf,
	/// The file, until the first keyframe gives the video's size and the segment starts.
	file: Option<File>,
	muxer: Option<Muxer>,
	size: Arc<AtomicU64>,
	start: Option<Instant>,
	video: Option<RtpClock>,
	/// The audio clock and its first packet's offset from the start.
	audio: Option<(RtpClock, u64)>,
	queue: BinaryHeap<Reverse<Queued>>,
	order: u64,
	newest_ns: u64,
	last_ns: u64,
	block_bytes: u64,
	keyframes: u64,
	frames: u64,
}

impl WebmFile {
	pub(super) fn create(path: &Path) -> std::io::Result<Self> {
		Ok(Self {
			path: path.to_path_buf(),
			file: Some(File::create(path)?),
			muxer: None,
			size: Arc::new(AtomicU64::new(0)),
			start: None,
			video: None,
			audio: None,
			queue: BinaryHeap::new(),
			order: 0,
			newest_ns: 0,
			last_ns: 0,
			block_bytes: 0,
			keyframes: 0,
			frames: 0,
		})
	}

	/// What this recording charges the quota: an upper bound of its finished size.
	pub(super) fn charged(&self) -> u64 {
		if self.muxer.is_none() {
			return 0;
		}
		let clusters = self.keyframes + self.last_ns / MAX_CLUSTER_SPAN_NS + 1;
		HEADER_BYTES + self.block_bytes + clusters * CLUSTER_BYTES
	}

	/// Frames written.
	pub(super) fn frames(&self) -> u64 {
		self.frames
	}

	/// Take a video frame; `room` is what the quota has left.
	pub(super) fn push_video(&mut self, frame: Frame, room: u64) -> std::io::Result<Pushed> {
		if self.muxer.is_none() {
			if !frame.key {
				return Ok(Pushed::Skipped);
			}
			let Some((w, h)) = super::frames::vp8_dimensions(&frame.data) else {
				return Ok(Pushed::Skipped);
			};
			self.begin(u32::from(w), u32::from(h))?;
			self.start = Some(frame.arrival);
			self.video = Some(RtpClock::new(90_000, frame.rtp));
		}
		let Some(clock) = self.video.as_mut() else { return Ok(Pushed::Skipped) };
		let ns = clock.ns(frame.rtp);
		self.enqueue(ns, true, frame.key, frame.data);
		self.flush(room, false)
	}

	/// Take an Opus packet; `room` is what the quota has left.
	pub(super) fn push_audio(
		&mut self,
		rtp: u32,
		payload: &[u8],
		arrival: Instant,
		room: u64,
	) -> std::io::Result<Pushed> {
		// Audio before the first keyframe has no picture to go with.
		let Some(start) = self.start else { return Ok(Pushed::Skipped) };
		let (clock, offset) = self.audio.get_or_insert_with(|| {
			let offset = arrival.saturating_duration_since(start).as_nanos() as u64;
			(RtpClock::new(48_000, rtp), offset)
		});
		let ns = *offset + clock.ns(rtp);
		self.enqueue(ns, false, true, payload.to_vec());
		self.flush(room, false)
	}

	fn begin(&mut self, width: u32, height: u32) -> std::io::Result<()> {
		let file = self.file.take().ok_or_else(|| std::io::Error::other("recording gone"))?;
		let tracked = Tracked { inner: BufWriter::new(file), pos: 0, size: self.size.clone() };
		let muxer = (|| {
			let builder = SegmentBuilder::new(webm::mux::Writer::new(tracked))?
				.set_writing_app("vilokanam")?;
			let (builder, video) =
				builder.add_video_track(width, height, VideoCodecId::VP8, None)?;
			let (builder, audio) = builder.add_audio_track(48_000, 2, AudioCodecId::Opus, None)?;
			let builder = builder.set_codec_private(audio, &OPUS_HEAD)?;
			Ok::<_, webm::mux::Error>(Muxer { segment: builder.build(), video, audio })
		})()
		.map_err(|e| std::io::Error::other(format!("libwebm: {e:?}")))?;
		self.muxer = Some(muxer);
		Ok(())
	}

	fn enqueue(&mut self, ns: u64, video: bool, key: bool, data: Vec<u8>) {
		self.order += 1;
		self.newest_ns = self.newest_ns.max(ns);
		self.queue.push(Reverse(Queued { ns, order: self.order, video, key, data }));
	}

	/// Write the queued frames older than [`REORDER`] (all of them with `all`), in time order,
	/// while they fit in `room`.
	fn flush(&mut self, room: u64, all: bool) -> std::io::Result<Pushed> {
		let before = self.charged();
		let mut pushed = Pushed::Skipped;
		while let Some(Reverse(next)) = self.queue.peek() {
			if !all && next.ns.saturating_add(REORDER.as_nanos() as u64) > self.newest_ns {
				break;
			}
			let Some(Reverse(frame)) = self.queue.pop() else { break };
			// libwebm refuses a timestamp below the last one written, whichever the track.
			let ns = frame.ns.max(self.last_ns);
			let block = frame.data.len() as u64 + BLOCK_BYTES;
			let key = u64::from(frame.video && frame.key);
			let spans = ns / MAX_CLUSTER_SPAN_NS - self.last_ns / MAX_CLUSTER_SPAN_NS;
			let growth = block + (key + spans) * CLUSTER_BYTES;
			if self.charged() + growth > before + room {
				self.queue.clear();
				return Ok(Pushed::OverQuota);
			}
			let Some(m) = self.muxer.as_mut() else { break };
			let track: webm::mux::TrackNum =
				if frame.video { m.video.into() } else { m.audio.into() };
			m.segment
				.add_frame(track, &frame.data, ns, frame.key)
				.map_err(|e| std::io::Error::other(format!("libwebm: {e:?}")))?;
			self.last_ns = ns;
			self.block_bytes += block;
			self.keyframes += key;
			self.frames += 1;
			pushed = Pushed::Written;
		}
		Ok(pushed)
	}

	/// Write what is queued (while `room` holds it) and finish the file: its Cues, sizes and
	/// duration. Returns its path and size, or `None` when nothing was recorded (the file is
	/// removed).
	pub(super) fn finish(mut self, room: u64) -> std::io::Result<Option<(PathBuf, u64)>> {
		let flushed = self.flush(room, true);
		let Some(muxer) = self.muxer.take().filter(|_| self.frames > 0) else {
			drop(self.file.take());
			std::fs::remove_file(&self.path)?;
			return Ok(None);
		};
		let finalized = muxer.segment.finalize(None);
		let mut tracked = match finalized {
			Ok(w) => w.into_inner(),
			Err(w) => {
				drop(w);
				return Err(std::io::Error::other("libwebm could not finish the file"));
			},
		};
		tracked.flush()?;
		flushed?;
		Ok(Some((self.path.clone(), self.size.load(Ordering::Relaxed))))
	}
}
