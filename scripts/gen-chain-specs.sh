#!/usr/bin/env bash
# Regenerates what is checked in and generated from the runtime: chain-specs/ (dev and local
# testnet, plain and raw, from the genesis presets), chain-specs/metadata.scale (the metadata
# clients generate code from) and sdk/test/vectors.json (the bytes the SDK must reproduce).
# node/tests/chain_specs.rs and sidecar/tests/sdk_vectors.rs fail when they drift.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# Always through build.sh (nothing to do when up to date): the binary left by weights.sh is
# the benchmark build, whose Wasm must not end up in the chain specs.
"$ROOT/scripts/build.sh"
for chain in dev local; do
	"$NODE_BIN" export-chain-spec --chain "$chain" --output "chain-specs/$chain.json"
	"$NODE_BIN" export-chain-spec --chain "$chain" --raw --output "chain-specs/$chain-raw.json"
done
# The workspace's selection, as in scripts/test.sh (another would unify features differently).
workspace=(--locked --profile "$PROFILE" "${WORKSPACE[@]}")
VILOKANAM_WRITE_METADATA=1 cargo test "${workspace[@]}" --test chain_specs -- checked_in_metadata
VILOKANAM_WRITE_VECTORS=1 cargo test "${workspace[@]}" --test sdk_vectors
# The PAPI descriptors @vilokanam/sdk ships (sdk/papi), from the metadata just written.
[ -d sdk/node_modules ] || (cd sdk && npm ci --no-audit --no-fund --loglevel=error)
(cd sdk && npx --no-install papi generate)
log "chain specs, metadata, SDK vectors and PAPI descriptors written"
