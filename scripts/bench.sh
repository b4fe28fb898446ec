#!/usr/bin/env bash
# Runs one of the workspace's benchmark binaries (sidecar/benches, sfu/benches) in the shared
# release profile and package selection, so it reuses the build scripts/build.sh and
# scripts/test.sh made and compiles only the benchmark itself (`cargo bench -p …` in the bench
# profile would compile ~900 crates again). Arguments after the name go to the benchmark.
#
#   scripts/bench.sh heartbeats --viewers 1000 --seconds 10
#   scripts/bench.sh fanout --viewers 200
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
if [ $# -lt 1 ]; then
	echo "usage: scripts/bench.sh <heartbeats|fanout|stun|…> [benchmark arguments]" >&2
	exit 2
fi
name="$1"
shift
cargo bench --locked --profile "$PROFILE" "${WORKSPACE[@]}" --bench "$name" -- "$@"
