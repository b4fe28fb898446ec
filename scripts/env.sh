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
# checks (the runtime with `try-runtime` recompiles FRAME); scripts/check-build-parity.sh
# holds `cargo build` and `cargo test` of this selection to the same features.
WORKSPACE=(--workspace --exclude vilokanam-zombienet-tests --exclude vilokanam-subxt-client
	--exclude vilokanam-try-runtime)

log() { printf '\033[1;34m==> %s\033[0m\n' "$*" >&2; }
