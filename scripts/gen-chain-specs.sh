#!/usr/bin/env bash
# Regenerates chain-specs/ (dev and local testnet, plain and raw) from the runtime's genesis
# presets. node/tests/chain_specs.rs fails when the checked-in files drift from the runtime.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
[ -x "$NODE_BIN" ] || "$ROOT/scripts/build.sh"
for chain in dev local; do
	"$NODE_BIN" export-chain-spec --chain "$chain" --output "chain-specs/$chain.json"
	"$NODE_BIN" export-chain-spec --chain "$chain" --raw --output "chain-specs/$chain-raw.json"
done
log "chain specs written to chain-specs/"
