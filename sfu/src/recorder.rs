//! Optional recording of publishers' video to disk, for later viewing.
//!
//! The engine hands each publisher's video packets (the highest layer it records) to this
//! module's own thread, so disk writes never stall the media loop. Packets are reassembled
//! into frames (a frame is written only when all of its packets arrived in order) from the
//! first keyframe on, and stored as IVF for VP8 or an Annex-B elementary stream for H.264:
//! both play with ffplay or VLC. One file per publisher connection:
//! `stream-<id>-<unix ms>.ivf|.h264`.
//!
//! The directory has a quota: what is in it when the recorder starts counts, and once the next
//! frame would pass the quota every open recording is finished and none is started again (a
//! publisher could otherwise fill the disk the chain's database and the sidecar's share).

use crate::codec::{self, VideoCodec};
use std::{
	collections::HashMap,
	fs::File,
	io::{BufWriter, Seek, SeekFrom, Write},
	path::PathBuf,
	sync::{mpsc, Arc},
	time::{SystemTime, UNIX_EPOCH},
};

/// One packet for the recorder.
pub struct RecordPacket {
	/// The publisher.
	pub peer: u64,
	/// Its stream.
	pub stream_id: u64,
	/// Its codec.
	pub codec: VideoCodec,
	/// Extended RTP sequence number.
	pub seq: u64,
	/// RTP timestamp.
	pub timestamp: u32,
	/// RTP marker bit (a frame's last packet).
	pub marker: bool,
	/// RTP payload.
	pub payload: Arc<[u8]>,
}

/// What the core hands the recorder.
pub enum RecordMsg {
	/// A video packet of a publisher.
	Packet(RecordPacket),
	/// The publisher (by peer id) is gone: finish its file.
	End(u64),
}

/// The handle the engine writes to. Dropping it finishes the open recordings and waits for
/// the thread.
pub struct Recorder {
	tx: Option<mpsc::Sender<RecordMsg>>,
	thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
	/// Start the recorder thread writing into `dir` (created if missing), at most
	/// `max_bytes` in it.
	pub fn new(dir: PathBuf, max_bytes: u64) -> Self {
		let (tx, rx) = mpsc::channel();
		let spawned = std::thread::Builder::new().name("media-recorder".into()).spawn(move || {
			if let Err(e) = std::fs::create_dir_all(&dir) {
				tracing::error!("cannot create the recording directory {}: {e}", dir.display());
				return;
			}
			let used = dir_bytes(&dir);
			run(dir, rx, Quota { used, max: max_bytes })
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

struct Recording {
	out: BufWriter<File>,
	/// Bytes written to the file so far.
	written: u64,
	codec: VideoCodec,
	path: PathBuf,
	frames: u32,
	first_ts: Option<u32>,
	/// The current frame's packets: (seq, payload).
	pending: Vec<(u64, Arc<[u8]>)>,
	pending_ts: u32,
	/// Whether frames are being written: from a keyframe until a packet goes missing.
	started: bool,
	/// The last sequence number of the last frame written.
	last_seq: Option<u64>,
	dims: Option<(u16, u16)>,
}

/// The bytes the recording directory may hold, and holds.
struct Quota {
	used: u64,
	max: u64,
}

/// The bytes of the files in `dir` (not below it).
fn dir_bytes(dir: &std::path::Path) -> u64 {
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

/// The IVF header's size, written when a VP8 recording opens.
const IVF_HEADER_BYTES: u64 = 32;

fn run(dir: PathBuf, rx: mpsc::Receiver<RecordMsg>, mut quota: Quota) {
	let mut recordings: HashMap<u64, Recording> = HashMap::new();
	let mut full = false;
	while let Ok(msg) = rx.recv() {
		match msg {
			RecordMsg::Packet(_) if full => {},
			RecordMsg::Packet(p) => {
				let peer = p.peer;
				let rec = match recordings.entry(p.peer) {
					std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
					std::collections::hash_map::Entry::Vacant(v) => {
						let at = SystemTime::now()
							.duration_since(UNIX_EPOCH)
							.map(|d| d.as_millis())
							.unwrap_or(0);
						let ext = match p.codec {
							VideoCodec::Vp8 => "ivf",
							VideoCodec::H264 => "h264",
						};
						let path = dir.join(format!("stream-{}-{at}.{ext}", p.stream_id));
						if quota.used.saturating_add(IVF_HEADER_BYTES) > quota.max {
							full = true;
							tracing::error!(
								"the recording directory {} holds its quota of {} bytes: \
								 recording stops",
								dir.display(),
								quota.max
							);
							continue;
						}
						match open(&path, p.codec) {
							Ok(out) => v.insert(Recording {
								written: {
									let header = if p.codec == VideoCodec::Vp8 {
										IVF_HEADER_BYTES
									} else {
										0
									};
									quota.used = quota.used.saturating_add(header);
									header
								},
								out,
								codec: p.codec,
								path,
								frames: 0,
								first_ts: None,
								pending: Vec::new(),
								pending_ts: p.timestamp,
								started: false,
								last_seq: None,
								dims: None,
							}),
							Err(e) => {
								tracing::error!("cannot record to {}: {e}", path.display());
								continue;
							},
						}
					},
				};
				let before = rec.written;
				let room = quota.max.saturating_sub(quota.used);
				match rec.push(p, room) {
					Ok(Pushed::Written | Pushed::Skipped) => {
						quota.used = quota.used.saturating_add(rec.written - before);
					},
					Ok(Pushed::OverQuota) => {
						full = true;
						tracing::error!(
							"the recording directory {} reached its quota of {} bytes: \
							 recordings are finished and no more are started",
							dir.display(),
							quota.max
						);
						for (_, mut rec) in recordings.drain() {
							finish(&mut rec);
						}
					},
					Err(e) => {
						tracing::error!("recording to {} failed: {e}", rec.path.display());
						recordings.remove(&peer);
					},
				}
			},
			RecordMsg::End(peer) => {
				if let Some(mut rec) = recordings.remove(&peer) {
					finish(&mut rec);
				}
			},
		}
	}
	for (_, mut rec) in recordings {
		finish(&mut rec);
	}
}

fn finish(rec: &mut Recording) {
	match rec.finish() {
		Ok(()) => tracing::info!("recorded {} frames to {}", rec.frames, rec.path.display()),
		Err(e) => tracing::error!("finishing {} failed: {e}", rec.path.display()),
	}
}

/// What became of a packet.
enum Pushed {
	/// It completed a frame, which was written.
	Written,
	/// Nothing was written: it was kept for a frame, or dropped with an incomplete one.
	Skipped,
	/// The frame it completed would pass the quota: not written.
	OverQuota,
}

fn open(path: &PathBuf, codec: VideoCodec) -> std::io::Result<BufWriter<File>> {
	let mut out = BufWriter::new(File::create(path)?);
	if codec == VideoCodec::Vp8 {
		// IVF header; dimensions and frame count are patched in at the end.
		out.write_all(&ivf_header(0, 0, 0))?;
	}
	Ok(out)
}

fn ivf_header(width: u16, height: u16, frames: u32) -> [u8; 32] {
	let mut h = [0u8; 32];
	h[0..4].copy_from_slice(b"DKIF");
	h[6..8].copy_from_slice(&32u16.to_le_bytes());
	h[8..12].copy_from_slice(b"VP80");
	h[12..14].copy_from_slice(&width.to_le_bytes());
	h[14..16].copy_from_slice(&height.to_le_bytes());
	// Time base 1/90000: RTP video time.
	h[16..20].copy_from_slice(&90_000u32.to_le_bytes());
	h[20..24].copy_from_slice(&1u32.to_le_bytes());
	h[24..28].copy_from_slice(&frames.to_le_bytes());
	h
}

impl Recording {
	/// Take a packet; a frame it completes is written if `room` bytes hold it.
	fn push(&mut self, p: RecordPacket, room: u64) -> std::io::Result<Pushed> {
		if p.timestamp != self.pending_ts {
			// A new frame began before the last one's marker: that one is incomplete.
			self.pending.clear();
			self.pending_ts = p.timestamp;
		}
		self.pending.push((p.seq, p.payload));
		if !p.marker {
			return Ok(Pushed::Skipped);
		}
		let mut packets = std::mem::take(&mut self.pending);
		packets.sort_by_key(|(seq, _)| *seq);
		let contiguous = packets.windows(2).all(|w| w[1].0 == w[0].0 + 1);
		let (Some((first_seq, first)), Some((last_seq, _))) = (packets.first(), packets.last())
		else {
			return Ok(Pushed::Skipped);
		};
		let key = codec::starts_keyframe(self.codec, first);
		// A frame follows the last one written without a gap, or is a keyframe: after a loss,
		// frames would refer to what is missing, so recording waits for the next keyframe.
		let follows = self.last_seq.is_some_and(|l| *first_seq == l + 1);
		if !contiguous || !(key || (self.started && follows)) {
			self.started = false;
			return Ok(Pushed::Skipped);
		}
		let frame = match self.codec {
			VideoCodec::Vp8 => depacketize_vp8(&packets),
			VideoCodec::H264 => depacketize_h264(&packets),
		};
		let Some(frame) = frame else { return Ok(Pushed::Skipped) };
		let size = match self.codec {
			VideoCodec::Vp8 => 12 + frame.len() as u64,
			VideoCodec::H264 => frame.len() as u64,
		};
		if size > room {
			return Ok(Pushed::OverQuota);
		}
		self.started = true;
		self.last_seq = Some(*last_seq);
		match self.codec {
			VideoCodec::Vp8 => {
				if key && self.dims.is_none() && frame.len() >= 10 {
					let w = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
					let h = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
					self.dims = Some((w, h));
				}
				let first_ts = *self.first_ts.get_or_insert(p.timestamp);
				let pts = u64::from(p.timestamp.wrapping_sub(first_ts));
				self.out.write_all(&(frame.len() as u32).to_le_bytes())?;
				self.out.write_all(&pts.to_le_bytes())?;
				self.out.write_all(&frame)?;
			},
			VideoCodec::H264 => self.out.write_all(&frame)?,
		}
		self.written += size;
		self.frames += 1;
		Ok(Pushed::Written)
	}

	fn finish(&mut self) -> std::io::Result<()> {
		if self.codec == VideoCodec::Vp8 {
			let (w, h) = self.dims.unwrap_or((0, 0));
			self.out.seek(SeekFrom::Start(0))?;
			self.out.write_all(&ivf_header(w, h, self.frames))?;
		}
		self.out.flush()
	}
}

fn depacketize_vp8(packets: &[(u64, Arc<[u8]>)]) -> Option<Vec<u8>> {
	let mut frame = Vec::new();
	for (_, p) in packets {
		let len = codec::vp8_descriptor_len(p)?;
		frame.extend_from_slice(&p[len..]);
	}
	Some(frame)
}

fn depacketize_h264(packets: &[(u64, Arc<[u8]>)]) -> Option<Vec<u8>> {
	const START: [u8; 4] = [0, 0, 0, 1];
	let mut frame = Vec::new();
	for (_, p) in packets {
		let header = *p.first()?;
		match header & 0x1f {
			24 => {
				let mut rest = &p[1..];
				while rest.len() > 2 {
					let size = u16::from_be_bytes([rest[0], rest[1]]) as usize;
					let unit = rest.get(2..2 + size)?;
					frame.extend_from_slice(&START);
					frame.extend_from_slice(unit);
					rest = &rest[2 + size..];
				}
			},
			28 => {
				let fu = *p.get(1)?;
				if fu & 0x80 != 0 {
					frame.extend_from_slice(&START);
					frame.push((header & 0xe0) | (fu & 0x1f));
				}
				frame.extend_from_slice(p.get(2..)?);
			},
			_ => {
				frame.extend_from_slice(&START);
				frame.extend_from_slice(p);
			},
		}
	}
	Some(frame)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn packet(seq: u64, ts: u32, marker: bool, payload: &[u8]) -> RecordMsg {
		RecordMsg::Packet(RecordPacket {
			peer: 1,
			stream_id: 7,
			codec: VideoCodec::Vp8,
			seq,
			timestamp: ts,
			marker,
			payload: payload.into(),
		})
	}

	#[test]
	fn vp8_frames_become_an_ivf_file_from_the_first_keyframe() {
		let dir = tempfile::tempdir().unwrap();
		let rec = Recorder::new(dir.path().to_path_buf(), u64::MAX);
		// An inter frame before any keyframe: not recorded.
		rec.send(packet(1, 0, true, &[0x10, 0x01, 0xaa]));
		// A keyframe in two packets (descriptor S=1 then S=0), 320×240.
		let key = [0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];
		rec.send(packet(2, 3000, false, &key));
		rec.send(packet(3, 3000, true, &[0x00, 0xbb, 0xcc]));
		// A complete inter frame.
		rec.send(packet(4, 6000, true, &[0x10, 0x01, 0xdd]));
		// Packet 5 is lost: this frame, and the next one (it would refer to the lost data),
		// are not recorded...
		rec.send(packet(6, 9000, true, &[0x00, 0x01]));
		rec.send(packet(7, 12000, true, &[0x10, 0x01, 0xee]));
		// ...until the next keyframe.
		rec.send(packet(
			8,
			15000,
			true,
			&[0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00],
		));
		rec.send(RecordMsg::End(1));
		drop(rec);
		let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
		assert!(file.to_string_lossy().ends_with(".ivf"));
		let bytes = std::fs::read(file).unwrap();
		assert_eq!(&bytes[0..4], b"DKIF");
		assert_eq!(u16::from_le_bytes([bytes[12], bytes[13]]), 320);
		assert_eq!(u16::from_le_bytes([bytes[14], bytes[15]]), 240);
		assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 3, "three frames");
		// Frame 1: the keyframe's two payloads without their descriptors, at pts 0.
		let f1 = &bytes[32..];
		let len = u32::from_le_bytes(f1[0..4].try_into().unwrap()) as usize;
		assert_eq!(u64::from_le_bytes(f1[4..12].try_into().unwrap()), 0);
		assert_eq!(
			&f1[12..12 + len],
			&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 0xbb, 0xcc]
		);
		// Frame 2 at pts 3000, frame 3 (the keyframe) at pts 12000.
		let f2 = &f1[12 + len..];
		let len2 = u32::from_le_bytes(f2[0..4].try_into().unwrap()) as usize;
		assert_eq!(u64::from_le_bytes(f2[4..12].try_into().unwrap()), 3000);
		assert_eq!(&f2[12..12 + len2], &[0x01, 0xdd]);
		let f3 = &f2[12 + len2..];
		assert_eq!(u64::from_le_bytes(f3[4..12].try_into().unwrap()), 12000);
	}

	/// A publisher streaming into a directory with a quota: frames are written while they fit,
	/// then the file is finished (a valid IVF of what fit) and nothing more is written, for any
	/// publisher, even after a restart (what is in the directory counts).
	#[test]
	fn recording_stops_at_the_directory_quota() {
		let dir = tempfile::tempdir().unwrap();
		// Header 32 + a 12-byte keyframe frame (12 + 12) + inter frames of 2 bytes (12 + 2).
		let quota = 32 + 24 + 14 * 3;
		let rec = Recorder::new(dir.path().to_path_buf(), quota);
		let key = [0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 0x01, 0x02];
		rec.send(packet(1, 0, true, &key));
		for i in 0..10u64 {
			rec.send(packet(2 + i, 3000 * (i as u32 + 1), true, &[0x10, 0x01, 0xaa]));
		}
		// Another publisher after the quota is reached: not recorded.
		let mut other = packet(100, 0, true, &key);
		if let RecordMsg::Packet(p) = &mut other {
			p.peer = 2;
		}
		rec.send(other);
		drop(rec);
		let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap()).collect();
		assert_eq!(files.len(), 1, "the second publisher's recording never started");
		let bytes = std::fs::read(files[0].path()).unwrap();
		assert_eq!(bytes.len() as u64, quota, "exactly what fit");
		assert_eq!(
			u32::from_le_bytes(bytes[24..28].try_into().unwrap()),
			4,
			"the keyframe and three"
		);
		// A restart counts what is there: nothing more fits.
		let rec = Recorder::new(dir.path().to_path_buf(), quota + 10);
		let mut again = packet(1, 0, true, &key);
		if let RecordMsg::Packet(p) = &mut again {
			p.peer = 3;
		}
		rec.send(again);
		drop(rec);
		assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no new file");
	}
}
