//! A short randomized run of every fuzz target: its seeds, then mutants of them ([`mutate`]).
//! The coverage-guided runs (millions of inputs) are `scripts/fuzz.sh`'s; this keeps the
//! targets building and shows on every test run that inputs near the well-formed ones neither
//! panic nor hang.

use vilokanam_fuzz::{mutate, runtime_scale, sdp_offer, sfu_datagrams, ws_session};

fn short_run(name: &str, seeds: Vec<Vec<u8>>, run: fn(&[u8]), mutants: usize) {
	for seed in &seeds {
		run(seed);
	}
	let mut rng = mutate::Rng::new(0x5eed ^ name.len() as u64);
	for _ in 0..mutants {
		run(&mutate::mutant(&mut rng, &seeds));
	}
}

#[test]
fn ws_session_short_run() {
	short_run("ws_session", ws_session::seeds(), ws_session::run, 2_000);
}

#[test]
fn sdp_offer_short_run() {
	short_run("sdp_offer", sdp_offer::seeds(), sdp_offer::run, 2_000);
}

#[test]
fn sfu_datagrams_short_run() {
	short_run("sfu_datagrams", sfu_datagrams::seeds(), sfu_datagrams::run, 20_000);
}

#[test]
fn runtime_scale_short_run() {
	short_run("runtime_scale", runtime_scale::seeds(), runtime_scale::run, 100_000);
}

/// Writes every target's seeds to `fuzz/seeds/<target>/` (`scripts/fuzz.sh` starts from them).
#[test]
#[ignore = "writes files; run by scripts/fuzz.sh"]
fn write_seeds() {
	let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
	for (name, seeds) in [
		("ws_session", ws_session::seeds()),
		("sdp_offer", sdp_offer::seeds()),
		("sfu_datagrams", sfu_datagrams::seeds()),
		("runtime_scale", runtime_scale::seeds()),
	] {
		let dir = root.join(name);
		std::fs::create_dir_all(&dir).expect("the seed directory");
		for (i, seed) in seeds.iter().enumerate() {
			std::fs::write(dir.join(format!("seed-{i}")), seed).expect("a seed");
		}
	}
}
