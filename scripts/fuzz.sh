#!/usr/bin/env bash
# Coverage-guided fuzzing of every target in fuzz/ (see fuzz/src/lib.rs) with cargo-fuzz and
# libFuzzer. Only the pinned Rust 1.95 exists here, so cargo-fuzz's unstable flags go through
# RUSTC_BOOTSTRAP=1 and it runs with --sanitizer none (coverage instrumentation, no ASan: the
# targets are safe Rust; a panic is what is found). The instrumented build has its own target
# directory (~15 minutes cold on 2 cores); the runtime is built natively only (SKIP_WASM_BUILD).
#
#   scripts/fuzz.sh                        # every target, RUNS inputs each (default 1,000,000)
#   RUNS=100000 scripts/fuzz.sh sdp_offer  # one target
#
# New inputs that reach new code are kept in ~/.cache/vilokanam/fuzz-corpus/<target>; the
# committed seeds (fuzz/seeds/<target>, written by `cargo test -p vilokanam-fuzz --test
# short_runs -- --ignored write_seeds`) are read as well. A crash leaves its input in
# fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
TOOLS="$HOME/.cache/vilokanam/tools"
if ! [ -x "$TOOLS/bin/cargo-fuzz" ]; then
	log "installing cargo-fuzz"
	cargo install cargo-fuzz --locked --version 0.13.2 --root "$TOOLS"
fi
RUNS="${RUNS:-1000000}"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(ws_session sdp_offer sfu_datagrams runtime_scale)
export RUSTC_BOOTSTRAP=1 SKIP_WASM_BUILD=1
FUZZ_TARGET_DIR="$HOME/.cache/vilokanam/fuzz-target"
fuzz=(--fuzz-dir fuzz --sanitizer none --features libfuzzer --target-dir "$FUZZ_TARGET_DIR")
log "building the fuzz targets (instrumented)"
"$TOOLS/bin/cargo-fuzz" build "${fuzz[@]}"
for target in "${TARGETS[@]}"; do
	corpus="$HOME/.cache/vilokanam/fuzz-corpus/$target"
	mkdir -p "$corpus" "fuzz/artifacts/$target"
	log "fuzzing $target: $RUNS inputs"
	start=$(date +%s)
	stats=$(mktemp)
	set +e
	"$TOOLS/bin/cargo-fuzz" run "${fuzz[@]}" "$target" "$corpus" "fuzz/seeds/$target" -- \
		-runs="$RUNS" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 2>&1 |
		grep -E '^(#[0-9]+ +(DONE|INITED)|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)|Done|==[0-9]+== ERROR|SUMMARY|thread .* panicked)' |
		tee "$stats"
	status=${PIPESTATUS[0]}
	set -e
	if [ "$status" -ne 0 ]; then
		log "$target FAILED (status $status): see fuzz/artifacts/$target/"
		exit 1
	fi
	# A run stopped early (SIGUSR1, a signal) also exits 0: count what really ran.
	executed=$(awk '/number_of_executed_units/ {print $2}' "$stats")
	rm -f "$stats"
	if [ "${executed:-0}" -lt "$RUNS" ]; then
		log "$target stopped after ${executed:-0} of $RUNS inputs (no failure among them)"
		exit 1
	fi
	log "$target: $executed inputs, no failure, in $(($(date +%s) - start)) s"
done
