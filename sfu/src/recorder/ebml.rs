//! What replays need from a finished WebM recording, read from its element headers (EBML,
//! RFC 8794) without loading the media: the duration, the tracks, whether Cues were written,
//! and where each cluster starts (its time and byte offset), which is how a replay's bytes map
//! to seconds.

use std::io::{Read, Seek, SeekFrom};

const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMECODE_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_TYPE: u32 = 0x83;
const TRACK_NUMBER: u32 = 0xD7;
const VIDEO: u32 = 0xE0;
const PIXEL_WIDTH: u32 = 0xB0;
const PIXEL_HEIGHT: u32 = 0xBA;
const CLUSTER: u32 = 0x1F43_B675;
const CLUSTER_TIMECODE: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
const CUES: u32 = 0x1C53_BB6B;

/// One cluster: its time and where it starts in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterAt {
	/// Its timecode, in ms from the start of the recording.
	pub time_ms: u64,
	/// The byte offset of its element in the file.
	pub offset: u64,
}

/// A track of the file: its number and its Matroska type (1 video, 2 audio).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackAt {
	/// The track number blocks name.
	pub number: u64,
	/// 1 video, 2 audio.
	pub kind: u64,
	/// A video track's width and height in pixels.
	pub pixels: Option<(u64, u64)>,
}

/// What [`index`] reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebmIndex {
	/// The segment's duration, in ms.
	pub duration_ms: u64,
	/// Its tracks.
	pub tracks: Vec<TrackAt>,
	/// Its clusters, in file order.
	pub clusters: Vec<ClusterAt>,
	/// Where the last cluster ends: media bytes lie between the first cluster's offset and
	/// this (the Cues follow).
	pub media_end: u64,
	/// Whether it has Cues (players seek with them).
	pub cues: bool,
	/// The file's size.
	pub bytes: u64,
}

/// An element's header: its ID, where it and its data start, and how long its data is
/// (`None`: unknown).
struct Header {
	id: u32,
	start: u64,
	data: u64,
	size: Option<u64>,
}

fn bad(what: &str) -> std::io::Error {
	std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not a WebM we wrote: {what}"))
}

/// A variable-length integer: its value (with the length marker when `keep_marker`, as IDs
/// are written) and whether all its value bits are ones (an unknown size).
fn vint(r: &mut impl Read, keep_marker: bool, max_len: u32) -> std::io::Result<(u64, bool)> {
	let mut first = [0u8; 1];
	r.read_exact(&mut first)?;
	let len = first[0].leading_zeros() + 1;
	if len > max_len {
		return Err(bad("variable-length integer too long"));
	}
	// The first byte's value bits, after the length marker (none for an 8-byte integer).
	let value_bits: u8 = 0xffu8.checked_shr(len).unwrap_or(0);
	let mut value = u64::from(if keep_marker { first[0] } else { first[0] & value_bits });
	let mut ones = first[0] | !value_bits == 0xff;
	for _ in 1..len {
		r.read_exact(&mut first)?;
		value = (value << 8) | u64::from(first[0]);
		ones &= first[0] == 0xff;
	}
	Ok((value, ones))
}

fn header(r: &mut (impl Read + Seek)) -> std::io::Result<Header> {
	let start = r.stream_position()?;
	let (id, _) = vint(r, true, 4)?;
	let (size, unknown) = vint(r, false, 8)?;
	let data = r.stream_position()?;
	Ok(Header { id: id as u32, start, data, size: (!unknown).then_some(size) })
}

fn uint(r: &mut impl Read, size: u64) -> std::io::Result<u64> {
	if size > 8 {
		return Err(bad("integer longer than 8 bytes"));
	}
	let mut value = 0u64;
	let mut byte = [0u8; 1];
	for _ in 0..size {
		r.read_exact(&mut byte)?;
		value = (value << 8) | u64::from(byte[0]);
	}
	Ok(value)
}

fn float(r: &mut impl Read, size: u64) -> std::io::Result<f64> {
	match size {
		4 => Ok(f64::from(f32::from_bits(uint(r, 4)? as u32))),
		8 => Ok(f64::from_bits(uint(r, 8)?)),
		_ => Err(bad("float of another size")),
	}
}

/// Visit the children of the element whose data spans `start..end`, calling `each` with the
/// reader at each child's data; the reader is moved past each child afterwards.
fn children<R: Read + Seek>(
	r: &mut R,
	start: u64,
	end: u64,
	mut each: impl FnMut(&mut R, &Header) -> std::io::Result<()>,
) -> std::io::Result<()> {
	let mut at = start;
	while at < end {
		r.seek(SeekFrom::Start(at))?;
		let h = match header(r) {
			Ok(h) => h,
			Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
			Err(e) => return Err(e),
		};
		let size = h.size.ok_or_else(|| bad("element of unknown size"))?;
		each(r, &h)?;
		at = h.data.checked_add(size).ok_or_else(|| bad("size overflows"))?;
	}
	Ok(())
}

/// Read the index of a finished WebM.
pub fn index(r: &mut (impl Read + Seek)) -> std::io::Result<WebmIndex> {
	let bytes = r.seek(SeekFrom::End(0))?;
	r.seek(SeekFrom::Start(0))?;
	let ebml = header(r)?;
	let after_ebml = ebml.data + ebml.size.ok_or_else(|| bad("EBML header of unknown size"))?;
	r.seek(SeekFrom::Start(after_ebml))?;
	let segment = header(r)?;
	if segment.id != SEGMENT {
		return Err(bad("no segment"));
	}
	let end = segment.size.map_or(bytes, |s| segment.data.saturating_add(s).min(bytes));
	let mut index = WebmIndex { bytes, ..Default::default() };
	let mut scale = 1_000_000u64;
	let mut duration = 0f64;
	children(r, segment.data, end, |r, h| {
		let size = h.size.unwrap_or(0);
		match h.id {
			INFO => children(r, h.data, h.data + size, |r, c| {
				match c.id {
					TIMECODE_SCALE => scale = uint(r, c.size.unwrap_or(0))?.max(1),
					DURATION => duration = float(r, c.size.unwrap_or(0))?,
					_ => {},
				}
				Ok(())
			}),
			TRACKS => children(r, h.data, h.data + size, |r, entry| {
				if entry.id != TRACK_ENTRY {
					return Ok(());
				}
				let mut track = TrackAt { number: 0, kind: 0, pixels: None };
				children(r, entry.data, entry.data + entry.size.unwrap_or(0), |r, c| {
					match c.id {
						TRACK_NUMBER => track.number = uint(r, c.size.unwrap_or(0))?,
						TRACK_TYPE => track.kind = uint(r, c.size.unwrap_or(0))?,
						VIDEO => {
							let (mut w, mut h) = (0, 0);
							children(r, c.data, c.data + c.size.unwrap_or(0), |r, p| {
								match p.id {
									PIXEL_WIDTH => w = uint(r, p.size.unwrap_or(0))?,
									PIXEL_HEIGHT => h = uint(r, p.size.unwrap_or(0))?,
									_ => {},
								}
								Ok(())
							})?;
							track.pixels = Some((w, h));
						},
						_ => {},
					}
					Ok(())
				})?;
				index.tracks.push(track);
				Ok(())
			}),
			CLUSTER => {
				let offset = h.start;
				let mut time = None;
				children(r, h.data, h.data + size, |r, c| {
					if c.id == CLUSTER_TIMECODE && time.is_none() {
						time = Some(uint(r, c.size.unwrap_or(0))?);
					}
					Ok(())
				})?;
				let time = time.ok_or_else(|| bad("cluster without a timecode"))?;
				index.clusters.push(ClusterAt { time_ms: ms(time, scale), offset });
				index.media_end = h.data + size;
				Ok(())
			},
			CUES => {
				index.cues = true;
				Ok(())
			},
			_ => Ok(()),
		}
	})?;
	index.duration_ms = (duration * scale as f64 / 1e6).round() as u64;
	Ok(index)
}

fn ms(time: u64, scale: u64) -> u64 {
	(u128::from(time) * u128::from(scale) / 1_000_000) as u64
}

/// A block of a cluster: its track and whether it is a keyframe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockAt {
	/// Its track number.
	pub track: u64,
	/// Whether the keyframe flag is set.
	pub key: bool,
}

/// The SimpleBlocks of the cluster at `cluster` (an offset from [`index`]), in order.
pub fn blocks(r: &mut (impl Read + Seek), cluster: u64) -> std::io::Result<Vec<BlockAt>> {
	r.seek(SeekFrom::Start(cluster))?;
	let h = header(r)?;
	if h.id != CLUSTER {
		return Err(bad("no cluster there"));
	}
	let mut out = Vec::new();
	children(r, h.data, h.data + h.size.unwrap_or(0), |r, c| {
		if c.id == SIMPLE_BLOCK {
			let (track, _) = vint(r, false, 8)?;
			let mut rest = [0u8; 3];
			r.read_exact(&mut rest)?;
			out.push(BlockAt { track, key: rest[2] & 0x80 != 0 });
		}
		Ok(())
	})?;
	Ok(out)
}
