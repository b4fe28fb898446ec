#!/usr/bin/env bash
# Spawns Vilokanam as a parachain for a person: a Rococo-local relay chain (alice, bob) and
# Vilokanam's collator (charlie, para 2000) with zombienet-sdk (zombienet/parachain.toml),
# prints each node's WebSocket endpoint, Prometheus URL and log file, and tears the network
# down on Ctrl-C. Builds the relay chain node and the collator first (two hours the first time
# on 2 cores; cached after).
#
#   scripts/local-parachain.sh [NETWORK_TOML]    default: zombienet/parachain.toml
#
# The parachain's JSON-RPC (vilokanam_* included) is charlie's endpoint.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup-parachain.sh"

log "building the relay chain node and the collator ($PROFILE)"
cargo build --locked --profile "$PROFILE" "${PARACHAIN[@]}"
cargo build --locked --profile "$PROFILE" -p vilokanam-zombienet-tests --bin local-testnet

export VILOKANAM_RELAY="${VILOKANAM_RELAY:-$CARGO_TARGET_DIR/$PROFILE/vilokanam-relay}"
export VILOKANAM_COLLATOR="${VILOKANAM_COLLATOR:-$CARGO_TARGET_DIR/$PROFILE/vilokanam-collator}"
exec "$CARGO_TARGET_DIR/$PROFILE/local-testnet" --parachain "$@"
