#!/usr/bin/env bash
# Regenerates every pallet's weights.rs from its FRAME benchmarks (v2), run in the real Wasm
# runtime by `vilokanam-node benchmark pallet`. Needs the node built with
# `--features runtime-benchmarks`, which this script does (a separate, long build: the feature
# changes most of the dependency tree). The benchmark-enabled binary is kept beside the normal
# one as vilokanam-node-benchmarks so that the normal build is not disturbed.
#
#   STEPS / REPEAT  benchmark sampling (default 50 / 20)
#   PALLETS         which pallets (default: all of ours)
#   ANALYSIS        how weights are fitted: max (default), median-slopes or min-squares.
#                   pallet_ticks uses median-slopes: its settle_batch has two components that
#                   the CLI varies one at a time with the other at its maximum, and the
#                   min-squares intercept of such data absorbs the other component's cost (a
#                   117 ms "base" for a call whose empty batch costs microseconds).
#   BENCH_NICE      run the benchmarks at this niceness (default 0; -20 on a busy machine)
# Raw results are kept in $CARGO_TARGET_DIR/benchmarks/<pallet>.json for re-analysis.
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

mkdir -p "$CARGO_TARGET_DIR/benchmarks"
for pallet in $PALLETS; do
	dir="pallets/${pallet#pallet_}"
	analysis="${ANALYSIS:-max}"
	if [ -z "${ANALYSIS:-}" ] && [ "$pallet" = pallet_ticks ]; then analysis=median-slopes; fi
	log "benchmarking $pallet -> $dir/src/weights.rs ($analysis)"
	nice -n "${BENCH_NICE:-0}" "$BENCH_BIN" benchmark pallet \
		--chain dev \
		--pallet "$pallet" \
		--extrinsic '*' \
		--wasm-execution compiled \
		--steps "$STEPS" \
		--repeat "$REPEAT" \
		--template scripts/frame-weight-template.hbs \
		--output-analysis "$analysis" \
		--json-file "$CARGO_TARGET_DIR/benchmarks/$pallet.json" \
		--output "$dir/src/weights.rs"
done
# The benchmark build replaced target/<profile>/vilokanam-node (its runtime imports the
# benchmarking host functions, which a normal node refuses): build the normal node again, now
# with the new weights.
log "weights regenerated; rebuilding vilokanam-node with them"
cargo build --locked --profile "$PROFILE" -p vilokanam-node
