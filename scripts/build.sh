#!/usr/bin/env bash
# Builds the node (and with it the Wasm runtime) in the shared release profile.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
log "building vilokanam-node ($PROFILE) into $CARGO_TARGET_DIR"
cargo build --locked --profile "$PROFILE" -p vilokanam-node "$@"
