//! A small deterministic mutator for the short runs in the workspace's tests: random bit flips,
//! byte changes, insertions, deletions and splices of the seeds. Not coverage-guided (that is
//! what `scripts/fuzz.sh` and libFuzzer are for); it only shows that a target survives inputs
//! near the well-formed ones on every test run.

/// xorshift64*: reproducible without a dependency.
pub struct Rng(u64);

impl Rng {
	/// Seeded (0 is replaced, xorshift would stay at 0).
	pub fn new(seed: u64) -> Self {
		Self(seed.max(1))
	}

	/// The next number.
	pub fn next_u64(&mut self) -> u64 {
		self.0 ^= self.0 >> 12;
		self.0 ^= self.0 << 25;
		self.0 ^= self.0 >> 27;
		self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
	}

	/// A number below `n` (n > 0).
	pub fn below(&mut self, n: usize) -> usize {
		(self.next_u64() % n.max(1) as u64) as usize
	}
}

/// A mutation of one of `seeds` (a few edits, sometimes spliced with another seed).
pub fn mutant(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
	let mut out = seeds.get(rng.below(seeds.len())).cloned().unwrap_or_default();
	for _ in 0..1 + rng.below(8) {
		let len = out.len();
		match rng.below(6) {
			0 if len > 0 => {
				let i = rng.below(len);
				out[i] ^= 1 << rng.below(8);
			},
			1 if len > 0 => {
				let i = rng.below(len);
				out[i] = rng.next_u64() as u8;
			},
			2 => {
				let i = rng.below(len + 1);
				out.insert(i, rng.next_u64() as u8);
			},
			3 if len > 0 => {
				let i = rng.below(len);
				let n = 1 + rng.below((len - i).min(16));
				out.drain(i..i + n);
			},
			4 => {
				// An interesting value somewhere: 0, 0xff, a length-like small number.
				let i = rng.below(len + 1);
				let v = [0u8, 0xff, 0x7f, 0x80, 1, 4][rng.below(6)];
				out.insert(i, v);
			},
			_ => {
				if let Some(other) = seeds.get(rng.below(seeds.len())) {
					let cut = rng.below(out.len() + 1);
					let from = rng.below(other.len() + 1);
					out.truncate(cut);
					out.extend_from_slice(&other[from..]);
				}
			},
		}
	}
	out
}
