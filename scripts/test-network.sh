#!/usr/bin/env bash
# The multi-validator network tests: four validators of vilokanam-node spawned natively by
# zombienet-sdk from zombienet/network.toml; a validator is killed and restarted while blocks and
# finality continue. Kept out of scripts/test.sh for CI's time budget (see there).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
[ -x "$NODE_BIN" ] || "$ROOT/scripts/build.sh"
export VILOKANAM_NODE="${VILOKANAM_NODE:-$NODE_BIN}"
cargo test --locked --profile "$PROFILE" -p vilokanam-zombienet-tests -- --nocapture
