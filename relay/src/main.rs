//! `vilokanam-relay`: a Polkadot node with the Rococo runtime, for running Vilokanam's parachain
//! on one machine (`scripts/test-parachain.sh`, `scripts/local-parachain.sh`). It is the
//! upstream node unchanged; this crate only exists so that it builds from crates.io with the
//! rest of our tree and at the same polkadot-sdk release as our collator.

fn main() {
	if let Err(e) = polkadot_cli::run() {
		eprintln!("Error: {e}");
		std::process::exit(1);
	}
}
