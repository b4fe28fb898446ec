# Sourced by the other scripts: one place for the build settings they share.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
# A persistent target directory under $HOME saves a 30-minute cold build between sessions and
# runs; nothing depends on it being there, and CARGO_TARGET_DIR set by the caller wins.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vilokanam/target}"
# One profile for everything (node, unit tests, end-to-end tests): the dependency tree is built
# once, never in debug and release both.
export PROFILE=release
export NODE_BIN="$CARGO_TARGET_DIR/$PROFILE/vilokanam-node"
export PATH="$HOME/.cargo/bin:$PATH"
# The one package selection every default build uses (build.sh, test.sh, gen-chain-specs.sh,
# test-long.sh, the benches): cargo unifies features over the selected packages, so a build of
# `-p vilokanam-node` alone and `cargo test --workspace` compile ~390 crates twice. The zombienet
# tests and the subxt client stay out (their own subxt versions), and so do the try-runtime
# checks (the runtime with `try-runtime` recompiles FRAME), and so does the parachain mode
# (PARACHAIN below); scripts/check-build-parity.sh holds `cargo build` and `cargo test` of this
# selection to the same features.
WORKSPACE=(--workspace --exclude vilokanam-zombienet-tests --exclude vilokanam-subxt-client
	--exclude vilokanam-try-runtime --exclude vilokanam-parachain-runtime
	--exclude vilokanam-collator --exclude vilokanam-local-relay)
# The parachain mode's selection, built only by scripts/test-parachain.sh and
# scripts/local-parachain.sh: the collator and the relay chain bring polkadot-service, every
# relay subsystem, RocksDB and the Rococo runtime (two hours cold on 2 cores), and the
# parachain runtime cumulus' and XCM's pallets (about ten minutes more in a cold scripts/test.sh,
# which would leave it too close to CI's limit).
PARACHAIN=(-p vilokanam-parachain-runtime -p vilokanam-collator -p vilokanam-local-relay)

log() { printf '\033[1;34m==> %s\033[0m\n' "$*" >&2; }
