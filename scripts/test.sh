#!/usr/bin/env bash
# Sets up the machine and runs every test: formatting, the workspace's unit and integration
# tests, and the end-to-end tests against the real node (all in one release build).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
start=$(date +%s)

"$ROOT/scripts/setup.sh"

log "cargo fmt --check"
cargo fmt --all -- --check

# Builds the node binary too: the end-to-end tests in node/tests start it
# (CARGO_BIN_EXE_vilokanam-node), in the same profile as the tests.
log "cargo test --workspace ($PROFILE)"
cargo test --locked --profile "$PROFILE" --workspace

# A standard dApp client against the real node: polkadot.js decodes metadata and events.
log "polkadot.js end-to-end test"
NODE_BIN="$NODE_BIN" node --test e2e/polkadotjs/

log "all tests passed in $(( $(date +%s) - start )) s"
