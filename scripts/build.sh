#!/usr/bin/env bash
# Builds the workspace's binaries (the node with its Wasm runtime, the sidecar, the SFU bots) in
# the shared release profile and the package selection scripts/test.sh tests, so that the one
# compiles nothing the other already did.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
log "building the workspace ($PROFILE) into $CARGO_TARGET_DIR"
cargo build --locked --profile "$PROFILE" "${WORKSPACE[@]}" "$@"
