//! H.264 recordings: the video as an Annex-B elementary stream (`.h264`), which ffplay and VLC
//! play. Audio is not kept: browsers cannot replay this file, and muxing H.264 with Opus waits
//! for an fMP4 writer.

use super::frames::Frame;
use std::{
	fs::File,
	io::{BufWriter, Write},
	path::Path,
};

pub(super) struct AnnexBFile {
	out: BufWriter<File>,
	written: u64,
}

impl AnnexBFile {
	pub(super) fn create(path: &Path) -> std::io::Result<Self> {
		Ok(Self { out: BufWriter::new(File::create(path)?), written: 0 })
	}

	/// The bytes `frame` takes on disk.
	pub(super) fn size_of(frame: &Frame) -> u64 {
		frame.data.len() as u64
	}

	pub(super) fn write(&mut self, frame: &Frame) -> std::io::Result<()> {
		self.out.write_all(&frame.data)?;
		self.written += frame.data.len() as u64;
		Ok(())
	}

	pub(super) fn bytes(&self) -> u64 {
		self.written
	}

	pub(super) fn finish(mut self) -> std::io::Result<u64> {
		self.out.flush()?;
		Ok(self.written)
	}
}
