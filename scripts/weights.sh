#!/usr/bin/env bash
# Regenerates every pallet's weights.rs from its FRAME benchmarks (v2), run in the real Wasm
# runtime by `vilokanam-node benchmark pallet`. Needs the node built with
# `--features runtime-benchmarks`, which this script does (a separate, long build: the feature
# changes most of the dependency tree). The benchmark-enabled binary is kept beside the normal
# one as vilokanam-node-benchmarks so that the normal build is not disturbed.
#
#   STEPS / REPEAT  benchmark sampling (default 50 / 20)
#   TICKS_STEPS / TICKS_REPEAT
#                   sampling of pallet_ticks (default 10 / 5): each sample of its settle_batch
#                   benchmarks opens and signs thousands of sessions, so 50 / 20 would take hours
#                   on 2 cores. One run per pallet, written directly: weights written from merged
#                   JSON (--json-input) lose the storage info, and so every proof size.
#   PALLETS         which pallets (default: all of ours)
#   ANALYSIS        how weights are fitted: max (default), median-slopes or min-squares.
#                   pallet_ticks uses median-slopes: its settle_batch has two components that
#                   the CLI varies one at a time with the other at its maximum, and the
#                   min-squares intercept of such data absorbs the other component's cost (a
#                   117 ms "base" for a call whose empty batch costs microseconds).
#   BENCH_NICE      run the benchmarks at this niceness (default 0; -20 on a busy machine)
#   BENCH_BIN       an already built benchmark node to use: nothing is built (nor rebuilt after)
# A pallet's benchmarks named migration_* (one step of a multi-block migration) are written to
# its src/migrations/weights.rs instead, always at STEPS / REPEAT (they have no components).
#   ONLY_MIGRATIONS=1
#                   benchmark only those migration steps (the calls' weights.rs untouched): for
#                   a migration added without any call changing.
# Raw results are kept in $CARGO_TARGET_DIR/benchmarks/<pallet>.json for re-analysis.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"

STEPS="${STEPS:-50}"
REPEAT="${REPEAT:-20}"
TICKS_STEPS="${TICKS_STEPS:-10}"
TICKS_REPEAT="${TICKS_REPEAT:-5}"
PALLETS="${PALLETS:-pallet_streams pallet_payouts pallet_ticks}"
BUILD=1
if [ -n "${BENCH_BIN:-}" ]; then
	BUILD=0
else
	BENCH_BIN="$CARGO_TARGET_DIR/$PROFILE/vilokanam-node-benchmarks"
	log "building vilokanam-node with runtime-benchmarks"
	# The workspace's selection with the feature: the crates the feature does not touch are
	# the normal build's (131 crates to compile on top of it rather than 217 for `-p`).
	cargo build --locked --profile "$PROFILE" "${WORKSPACE[@]}" --bin vilokanam-node \
		--features vilokanam-node/runtime-benchmarks
	# Replace atomically: a benchmark still running keeps the old file busy.
	cp "$NODE_BIN" "$BENCH_BIN.tmp" && mv -f "$BENCH_BIN.tmp" "$BENCH_BIN"
fi

mkdir -p "$CARGO_TARGET_DIR/benchmarks"
for pallet in $PALLETS; do
	dir="pallets/$(echo "${pallet#pallet_}" | tr _ -)"
	analysis="${ANALYSIS:-max}"
	steps=$STEPS repeat=$REPEAT
	if [ "$pallet" = pallet_ticks ]; then
		steps=$TICKS_STEPS repeat=$TICKS_REPEAT
		if [ -z "${ANALYSIS:-}" ]; then analysis=median-slopes; fi
	fi
	# Benchmarks named migration_* measure one step of a multi-block migration: they go to
	# the pallet's migrations/weights.rs, which is dropped with the migrations; the calls'
	# weights.rs never names them.
	migrations=$("$BENCH_BIN" benchmark pallet --chain dev --pallet "$pallet" --extrinsic '*' \
		--list=all --no-csv-header | awk -F', ' '$2 ~ /^migration_/ {print $2}' | paste -sd, -)
	exclude=()
	if [ -n "$migrations" ]; then
		exclude=(--exclude-extrinsics "$(sed "s/\([^,]*\)/$pallet::\1/g" <<<"$migrations")")
	fi
	if [ "${ONLY_MIGRATIONS:-0}" != 1 ]; then
		log "benchmarking $pallet ($steps / $repeat, $analysis) into $dir/src/weights.rs"
		nice -n "${BENCH_NICE:-0}" "$BENCH_BIN" benchmark pallet --chain dev --pallet "$pallet" \
			--extrinsic '*' "${exclude[@]}" --wasm-execution compiled --steps "$steps" --repeat "$repeat" \
			--json-file "$CARGO_TARGET_DIR/benchmarks/$pallet.json" \
			--template scripts/frame-weight-template.hbs \
			--output-analysis "$analysis" \
			--output "$dir/src/weights.rs"
	fi
	if [ -n "$migrations" ]; then
		log "benchmarking $pallet's migration steps ($migrations) into $dir/src/migrations/weights.rs"
		nice -n "${BENCH_NICE:-0}" "$BENCH_BIN" benchmark pallet --chain dev --pallet "$pallet" \
			--extrinsic "$migrations" --wasm-execution compiled --steps "$STEPS" --repeat "$REPEAT" \
			--json-file "$CARGO_TARGET_DIR/benchmarks/$pallet.migrations.json" \
			--template scripts/frame-weight-template.hbs \
			--output-analysis max \
			--output "$dir/src/migrations/weights.rs"
	fi
done
# The benchmark build replaced target/<profile>/vilokanam-node (its runtime imports the
# benchmarking host functions, which a normal node refuses): build the normal node again, now
# with the new weights.
if [ "$BUILD" = 1 ]; then
	log "weights regenerated; rebuilding the workspace with them"
	"$ROOT/scripts/build.sh"
fi
