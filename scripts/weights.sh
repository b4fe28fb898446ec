#!/usr/bin/env bash
# Regenerates every pallet's weights.rs from its FRAME benchmarks (v2), run in the real Wasm
# runtime by `vilokanam-node benchmark pallet`. Needs the node built with
# `--features runtime-benchmarks`, which this script does (a separate, long build: the feature
# changes most of the dependency tree). The benchmark-enabled binary is kept beside the normal
# one as vilokanam-node-benchmarks so that the normal build is not disturbed.
#
#   STEPS / REPEAT  benchmark sampling (default 50 / 20)
#   PALLETS         which pallets (default: all of ours)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"

STEPS="${STEPS:-50}"
REPEAT="${REPEAT:-20}"
PALLETS="${PALLETS:-pallet_streams pallet_payouts pallet_ticks}"
BENCH_BIN="$CARGO_TARGET_DIR/$PROFILE/vilokanam-node-benchmarks"

log "building vilokanam-node with runtime-benchmarks"
cargo build --locked --profile "$PROFILE" -p vilokanam-node --features runtime-benchmarks
# Replace atomically: a benchmark still running keeps the old file busy.
cp "$NODE_BIN" "$BENCH_BIN.tmp" && mv -f "$BENCH_BIN.tmp" "$BENCH_BIN"

for pallet in $PALLETS; do
	dir="pallets/${pallet#pallet_}"
	log "benchmarking $pallet -> $dir/src/weights.rs"
	"$BENCH_BIN" benchmark pallet \
		--chain dev \
		--pallet "$pallet" \
		--extrinsic '*' \
		--wasm-execution compiled \
		--steps "$STEPS" \
		--repeat "$REPEAT" \
		--template scripts/frame-weight-template.hbs \
		--output "$dir/src/weights.rs"
done
log "weights regenerated; rebuild to use them"
