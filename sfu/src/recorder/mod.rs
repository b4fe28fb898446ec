//! Optional recording of publishers to disk, for replays.
//!
//! The engine hands each publisher's packets (its audio, and the one video layer it records)
//! to this module's own thread, so disk writes never stall the media loop. Video packets are
//! reassembled into frames ([`frames`]) from the first keyframe on. A VP8 publisher is recorded
//! with its Opus audio as WebM ([`webm`]), which browsers play and seek; an H.264 one (OBS over
//! WHIP) as an Annex-B elementary stream of its video ([`annexb`]), which browsers do not
//! replay, until an fMP4 writer exists. One file per publisher connection:
//! `stream-<id>-<unix ms>.webm|.h264`. Each finished WebM is reported ([`Recorded`]) with the
//! index replays serve it by ([`ebml`]).
//!
//! The directory has a quota: what is in it when the recorder starts counts, every open
//! recording counts an upper bound of its finished size, and once the next frame would pass the
//! quota every open recording is finished and none is started again (a publisher could
//! otherwise fill the disk the chain's database and the sidecar's share).

mod annexb;
pub mod ebml;
mod frames;
mod webm;

use crate::codec::VideoCodec;
use std::{
	collections::HashMap,
	path::{Path, PathBuf},
	sync::{mpsc, Arc},
	time::{Instant, SystemTime, UNIX_EPOCH},
};

/// What a recorded packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordMedia {
	/// Video in this codec.
	Video(VideoCodec),
	/// Opus audio.
	Audio,
}

/// One packet for the recorder.
pub struct RecordPacket {
	/// The publisher.
	pub peer: u64,
	/// Its stream.
	pub stream_id: u64,
	/// Audio, or video in which codec.
	pub media: RecordMedia,
	/// Extended RTP sequence number.
	pub seq: u64,
	/// RTP timestamp.
	pub timestamp: u32,
	/// RTP marker bit (a video frame's last packet).
	pub marker: bool,
	/// When it arrived.
	pub arrival: Instant,
	/// RTP payload.
	pub payload: Arc<[u8]>,
}

/// What the core hands the recorder.
pub enum RecordMsg {
	/// A packet of a publisher.
	Packet(RecordPacket),
	/// The publisher (by peer id) is gone: finish its file.
	End(u64),
}

/// A finished WebM recording, as replays need it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
	/// The stream it recorded.
	pub stream_id: u64,
	/// The file.
	pub path: PathBuf,
	/// Its size and clusters (time, offset), read back from the file.
	pub index: ebml::WebmIndex,
}

/// Called with each finished WebM recording, on the recorder's thread.
#[derive(Clone)]
pub struct OnRecorded(pub Arc<dyn Fn(Recorded) + Send + Sync>);

impl std::fmt::Debug for OnRecorded {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.write_str("OnRecorded")
	}
}

/// The handle the engine writes to. Dropping it finishes the open recordings and waits for
/// the thread.
pub struct Recorder {
	tx: Option<mpsc::Sender<RecordMsg>>,
	thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
	/// Start the recorder thread writing into `dir` (created if missing), at most `max_bytes`
	/// in it, calling `on_recorded` with each finished WebM.
	pub fn new(dir: PathBuf, max_bytes: u64, on_recorded: Option<OnRecorded>) -> Self {
		let (tx, rx) = mpsc::channel();
		let spawned = std::thread::Builder::new().name("media-recorder".into()).spawn(move || {
			if let Err(e) = std::fs::create_dir_all(&dir) {
				tracing::error!("cannot create the recording directory {}: {e}", dir.display());
				return;
			}
			let used = dir_bytes(&dir);
			Recordings {
				dir,
				quota: Quota { used, max: max_bytes },
				open: HashMap::new(),
				full: false,
				on_recorded,
			}
			.run(rx)
		});
		let thread = match spawned {
			Ok(t) => Some(t),
			Err(e) => {
				tracing::error!("cannot start the recorder: {e}");
				None
			},
		};
		Self { tx: Some(tx), thread }
	}

	pub(crate) fn send(&self, msg: RecordMsg) {
		// The recorder thread may have given up (disk error): recording is best effort.
		if let Some(tx) = &self.tx {
			let _ = tx.send(msg);
		}
	}
}

impl Drop for Recorder {
	fn drop(&mut self) {
		// Closing the channel ends the thread once it has written what was queued.
		self.tx = None;
		if let Some(t) = self.thread.take() {
			let _ = t.join();
		}
	}
}

/// The bytes the recording directory may hold, and holds (open recordings at their bound).
struct Quota {
	used: u64,
	max: u64,
}

impl Quota {
	fn room(&self) -> u64 {
		self.max.saturating_sub(self.used)
	}
}

/// The bytes of the files in `dir` (not below it).
fn dir_bytes(dir: &Path) -> u64 {
	std::fs::read_dir(dir)
		.map(|entries| {
			entries
				.filter_map(Result::ok)
				.filter_map(|e| e.metadata().ok())
				.filter(|m| m.is_file())
				.map(|m| m.len())
				.sum()
		})
		.unwrap_or(0)
}

/// What became of a packet.
pub(crate) enum Pushed {
	/// A frame was written.
	Written,
	/// Nothing was written: it was kept for a frame, queued, or dropped with an incomplete one.
	Skipped,
	/// A frame would pass the quota: not written.
	OverQuota,
}

/// The file of one publisher's recording.
enum Sink {
	Webm(webm::WebmFile),
	AnnexB(annexb::AnnexBFile),
}

struct Recording {
	stream_id: u64,
	path: PathBuf,
	video: frames::FrameAssembler,
	sink: Sink,
}

impl Recording {
	/// What it charges the quota now.
	fn charged(&self) -> u64 {
		match &self.sink {
			Sink::Webm(w) => w.charged(),
			Sink::AnnexB(a) => a.bytes(),
		}
	}

	fn push(&mut self, p: RecordPacket, room: u64) -> std::io::Result<Pushed> {
		match (p.media, &mut self.sink) {
			(RecordMedia::Audio, Sink::Webm(w)) => {
				w.push_audio(p.timestamp, &p.payload, p.arrival, room)
			},
			(RecordMedia::Audio, Sink::AnnexB(_)) => Ok(Pushed::Skipped),
			(RecordMedia::Video(codec), sink) => {
				if codec != self.video.codec() {
					return Ok(Pushed::Skipped);
				}
				let Some(frame) =
					self.video.push(p.seq, p.timestamp, p.marker, p.payload, p.arrival)
				else {
					return Ok(Pushed::Skipped);
				};
				match sink {
					Sink::Webm(w) => w.push_video(frame, room),
					Sink::AnnexB(a) => {
						if annexb::AnnexBFile::size_of(&frame) > room {
							return Ok(Pushed::OverQuota);
						}
						a.write(&frame)?;
						Ok(Pushed::Written)
					},
				}
			},
		}
	}
}

/// The recorder thread's state.
struct Recordings {
	dir: PathBuf,
	quota: Quota,
	open: HashMap<u64, Recording>,
	/// The quota was reached: nothing more is recorded.
	full: bool,
	on_recorded: Option<OnRecorded>,
}

impl Recordings {
	fn run(mut self, rx: mpsc::Receiver<RecordMsg>) {
		while let Ok(msg) = rx.recv() {
			match msg {
				RecordMsg::Packet(_) if self.full => {},
				RecordMsg::Packet(p) => self.packet(p),
				RecordMsg::End(peer) => {
					if let Some(rec) = self.open.remove(&peer) {
						self.finish(rec);
					}
				},
			}
		}
		let open: Vec<_> = self.open.drain().map(|(_, r)| r).collect();
		for rec in open {
			self.finish(rec);
		}
	}

	fn packet(&mut self, p: RecordPacket) {
		let peer = p.peer;
		if !self.open.contains_key(&peer) {
			// A recording starts with its video: audio alone has no picture to go with.
			let RecordMedia::Video(codec) = p.media else { return };
			let Some(rec) = self.start(p.stream_id, codec) else { return };
			self.open.insert(peer, rec);
		}
		let room = self.quota.room();
		let Some(rec) = self.open.get_mut(&peer) else { return };
		let before = rec.charged();
		match rec.push(p, room) {
			Ok(Pushed::Written | Pushed::Skipped) => {
				self.quota.used = self.quota.used - before + rec.charged();
			},
			Ok(Pushed::OverQuota) => {
				self.full = true;
				tracing::error!(
					"the recording directory {} reached its quota of {} bytes: recordings are \
					 finished and no more are started",
					self.dir.display(),
					self.quota.max
				);
				let open: Vec<_> = self.open.drain().map(|(_, r)| r).collect();
				for rec in open {
					self.finish(rec);
				}
			},
			Err(e) => {
				tracing::error!("recording to {} failed: {e}", rec.path.display());
				if let Some(rec) = self.open.remove(&peer) {
					self.finish(rec);
				}
			},
		}
	}

	fn start(&mut self, stream_id: u64, codec: VideoCodec) -> Option<Recording> {
		let at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
		let ext = match codec {
			VideoCodec::Vp8 => "webm",
			VideoCodec::H264 => "h264",
		};
		let path = self.dir.join(format!("stream-{stream_id}-{at}.{ext}"));
		let sink = match codec {
			VideoCodec::Vp8 => webm::WebmFile::create(&path).map(Sink::Webm),
			VideoCodec::H264 => annexb::AnnexBFile::create(&path).map(Sink::AnnexB),
		};
		match sink {
			Ok(sink) => {
				Some(Recording { stream_id, path, video: frames::FrameAssembler::new(codec), sink })
			},
			Err(e) => {
				tracing::error!("cannot record to {}: {e}", path.display());
				None
			},
		}
	}

	/// Finish `rec`'s file, count its real size, and report a WebM with its index.
	fn finish(&mut self, rec: Recording) {
		let charged = rec.charged();
		let room = self.quota.room();
		let Recording { stream_id, path, sink, .. } = rec;
		let finished = match sink {
			Sink::Webm(w) => {
				let frames = w.frames();
				w.finish(room).map(|done| done.map(|(path, bytes)| (path, bytes, frames, true)))
			},
			Sink::AnnexB(a) => a.finish().map(|bytes| Some((path.clone(), bytes, 0, false))),
		};
		match finished {
			Ok(Some((path, bytes, frames, webm))) => {
				self.quota.used = self.quota.used.saturating_sub(charged) + bytes;
				tracing::info!(frames, bytes, "recorded {}", path.display());
				if !webm {
					return;
				}
				let index = std::fs::File::open(&path).and_then(|mut f| ebml::index(&mut f));
				match (index, &self.on_recorded) {
					(Ok(index), Some(report)) => (report.0)(Recorded { stream_id, path, index }),
					(Ok(_), None) => {},
					(Err(e), _) => tracing::error!("cannot index {}: {e}", path.display()),
				}
			},
			Ok(None) => {
				self.quota.used = self.quota.used.saturating_sub(charged);
				tracing::info!("nothing recorded to {}: removed", path.display());
			},
			Err(e) => tracing::error!("finishing {} failed: {e}", path.display()),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::{
		sync::Mutex,
		time::{Duration, Instant},
	};

	/// A VP8 keyframe's single packet (descriptor S=1, then a 320×240 keyframe header).
	const KEY: [u8; 13] =
		[0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 0x01, 0x02];
	/// An inter frame's single packet.
	const INTER: [u8; 4] = [0x10, 0x01, 0xaa, 0xbb];

	fn video(peer: u64, seq: u64, rtp: u32, at: Instant, payload: &[u8]) -> RecordMsg {
		RecordMsg::Packet(RecordPacket {
			peer,
			stream_id: 7,
			media: RecordMedia::Video(VideoCodec::Vp8),
			seq,
			timestamp: rtp,
			marker: true,
			arrival: at,
			payload: payload.into(),
		})
	}

	fn audio(peer: u64, seq: u64, rtp: u32, at: Instant) -> RecordMsg {
		RecordMsg::Packet(RecordPacket {
			peer,
			stream_id: 7,
			media: RecordMedia::Audio,
			seq,
			timestamp: rtp,
			marker: false,
			arrival: at,
			payload: vec![0xfc; 40].into(),
		})
	}

	/// `secs` seconds of a publisher: 30 fps video with a keyframe every second and 20 ms
	/// Opus packets, the audio arriving up to 30 ms out of step with the video. Before it,
	/// an inter frame and audio that have no keyframe to start from.
	fn publish(rec: &Recorder, peer: u64, secs: u32) {
		let t0 = Instant::now();
		rec.send(audio(peer, 1, 0, t0));
		rec.send(video(peer, 1, 0, t0, &INTER));
		// In arrival order, as the engine hands them over.
		let mut packets: Vec<(u64, RecordMsg)> = Vec::new();
		for frame in 0..secs * 30 {
			let ms = u64::from(frame) * 1_000 / 30;
			let payload: &[u8] = if frame % 30 == 0 { &KEY } else { &INTER };
			let at = t0 + Duration::from_millis(ms);
			packets
				.push((ms, video(peer, u64::from(frame) + 2, 90_000 + frame * 3_000, at, payload)));
		}
		for packet in 0..secs * 50 {
			let ms = u64::from(packet) * 20 + u64::from(packet % 3) * 10;
			let at = t0 + Duration::from_millis(ms);
			packets.push((ms, audio(peer, u64::from(packet) + 2, 5_000 + packet * 960, at)));
		}
		packets.sort_by_key(|(ms, _)| *ms);
		for (_, p) in packets {
			rec.send(p);
		}
	}

	fn webm_files(dir: &Path) -> Vec<PathBuf> {
		let mut files: Vec<_> = std::fs::read_dir(dir)
			.unwrap()
			.map(|e| e.unwrap().path())
			.filter(|p| p.extension().is_some_and(|e| e == "webm"))
			.collect();
		files.sort();
		files
	}

	#[test]
	fn vp8_and_opus_become_a_seekable_webm_with_a_cluster_at_each_keyframe() {
		let dir = tempfile::tempdir().unwrap();
		let reported = Arc::new(Mutex::new(Vec::new()));
		let sink = reported.clone();
		let rec = Recorder::new(
			dir.path().to_path_buf(),
			u64::MAX,
			Some(OnRecorded(Arc::new(move |r| sink.lock().unwrap().push(r)))),
		);
		publish(&rec, 1, 3);
		rec.send(RecordMsg::End(1));
		drop(rec);

		let files = webm_files(dir.path());
		assert_eq!(files.len(), 1);
		let index = ebml::index(&mut std::fs::File::open(&files[0]).unwrap()).unwrap();
		let kinds: Vec<u64> = index.tracks.iter().map(|t| t.kind).collect();
		assert_eq!(kinds, vec![1, 2], "a video and an audio track");
		assert_eq!(index.tracks[0].pixels, Some((320, 240)), "the keyframe's size");
		assert!(index.cues, "Cues are written, so players can seek");
		let times: Vec<u64> = index.clusters.iter().map(|c| c.time_ms).collect();
		// A cluster at each keyframe (libwebm opens it with the audio queued just before).
		assert_eq!(times.len(), 3, "{times:?}");
		for (k, t) in times.iter().enumerate() {
			assert!(
				(k as u64 * 1_000).saturating_sub(100) <= *t && *t <= k as u64 * 1_000,
				"{times:?}"
			);
		}
		assert!((2_900..=3_100).contains(&index.duration_ms), "{}", index.duration_ms);
		assert_eq!(index.bytes, std::fs::metadata(&files[0]).unwrap().len());
		let video = index.tracks[0].number;
		for cluster in &index.clusters {
			let blocks =
				ebml::blocks(&mut std::fs::File::open(&files[0]).unwrap(), cluster.offset).unwrap();
			let first_video = blocks.iter().find(|b| b.track == video).unwrap();
			assert!(first_video.key, "cluster at {} ms starts with a keyframe", cluster.time_ms);
			assert!(blocks.iter().any(|b| b.track != video), "audio in every cluster");
		}
		// What was reported is what the file holds.
		let reported = reported.lock().unwrap();
		assert_eq!(reported.len(), 1);
		assert_eq!(reported[0].stream_id, 7);
		assert_eq!(reported[0].path, files[0]);
		assert_eq!(reported[0].index, index);
	}

	#[test]
	fn a_publisher_without_a_keyframe_leaves_no_file() {
		let dir = tempfile::tempdir().unwrap();
		let rec = Recorder::new(dir.path().to_path_buf(), u64::MAX, None);
		let t0 = Instant::now();
		for i in 0..10u32 {
			rec.send(video(1, u64::from(i), i * 3_000, t0, &INTER));
			rec.send(audio(1, u64::from(i), i * 960, t0));
		}
		rec.send(RecordMsg::End(1));
		drop(rec);
		assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
	}

	#[test]
	fn h264_video_stays_an_annex_b_stream_without_audio() {
		let dir = tempfile::tempdir().unwrap();
		let rec = Recorder::new(dir.path().to_path_buf(), u64::MAX, None);
		let t0 = Instant::now();
		let idr = RecordPacket {
			peer: 1,
			stream_id: 7,
			media: RecordMedia::Video(VideoCodec::H264),
			seq: 1,
			timestamp: 0,
			marker: true,
			arrival: t0,
			payload: vec![0x65, 0x88, 0x84].into(),
		};
		rec.send(RecordMsg::Packet(idr));
		rec.send(audio(1, 1, 0, t0));
		drop(rec);
		let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
		assert!(file.to_string_lossy().ends_with(".h264"));
		assert_eq!(std::fs::read(file).unwrap(), vec![0, 0, 0, 1, 0x65, 0x88, 0x84]);
	}

	/// Publishers streaming into a directory with a quota: the recording is finished as a
	/// valid WebM no larger than the quota, nothing more is recorded for anyone, and after a
	/// restart what is in the directory counts.
	#[test]
	fn recording_stops_within_the_directory_quota() {
		let dir = tempfile::tempdir().unwrap();
		let quota = 8_000;
		let rec = Recorder::new(dir.path().to_path_buf(), quota, None);
		publish(&rec, 1, 3);
		publish(&rec, 2, 1);
		drop(rec);
		let files = webm_files(dir.path());
		assert_eq!(files.len(), 1, "the second publisher's recording never started");
		let size = std::fs::metadata(&files[0]).unwrap().len();
		assert!(size <= quota, "{size} bytes in a quota of {quota}");
		let index = ebml::index(&mut std::fs::File::open(&files[0]).unwrap()).unwrap();
		assert!(index.cues && !index.clusters.is_empty(), "finished: {index:?}");
		assert!(index.duration_ms < 3_000, "cut short: {} ms", index.duration_ms);

		let rec = Recorder::new(dir.path().to_path_buf(), size + 500, None);
		publish(&rec, 3, 1);
		drop(rec);
		assert_eq!(webm_files(dir.path()).len(), 1, "no new file after the restart");
	}

	#[test]
	fn the_index_reader_refuses_what_is_not_a_webm() {
		for bytes in [&b""[..], b"garbage", &[0x1a, 0x45, 0xdf, 0xa3, 0xff]] {
			assert!(ebml::index(&mut std::io::Cursor::new(bytes)).is_err());
		}
	}
}
