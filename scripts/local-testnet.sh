#!/usr/bin/env bash
# Spawns a local network of four validators (alice, bob, charlie, dave) on the `local` chain with
# zombienet-sdk (zombienet/network.toml), prints each node's WebSocket endpoint, Prometheus URL and
# log file, and tears the whole network down on Ctrl-C. Builds the node first if it is missing.
#
#   scripts/local-testnet.sh [NETWORK_TOML]      default: zombienet/network.toml
#
#   VILOKANAM_NODE   node binary to run (default: $CARGO_TARGET_DIR/release/vilokanam-node)
#
# Node data lives under /tmp/zombie-*/ (printed at start) and is left there after teardown.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

command -v cargo >/dev/null 2>&1 || "$ROOT/scripts/setup.sh"

export VILOKANAM_NODE="${VILOKANAM_NODE:-$NODE_BIN}"
if [ ! -x "$VILOKANAM_NODE" ]; then
	[ "$VILOKANAM_NODE" = "$NODE_BIN" ] || { log "VILOKANAM_NODE=$VILOKANAM_NODE is not executable"; exit 1; }
	"$ROOT/scripts/build.sh"
fi

log "building the local-testnet launcher ($PROFILE)"
cargo build --locked --profile "$PROFILE" -p vilokanam-zombienet-tests --bin local-testnet

exec "$CARGO_TARGET_DIR/$PROFILE/local-testnet" "$@"
