#!/usr/bin/env bash
# The long end-to-end tests, kept out of scripts/test.sh for CI's time budget (~15 minutes of
# waiting, the two in parallel, against the real node and sidecar):
# - relay_e2e's five-minute outage: the sidecar cut off from the chain while the node produces
#   blocks loses no acknowledged second (and stops acknowledging after --ack-without-chain-secs);
# - pay_per_second with VILOKANAM_LONG_TESTS=1: an abandoned session stays open for the
#   runtime's twelve-minute idle timeout, then the off-chain worker refunds it;
# - relay_e2e's crash loop: the sidecar killed with SIGKILL 20 times and the node 5 times during
#   a stream with two paying viewers; every acknowledged second is settled exactly once.
# Then, alone (it loads both cores): sybil_e2e, 20,000 sybil sessions trickling a second at a
# time against the relay's terms while 20 honest viewers watch (~10 minutes; VILOKANAM_SYBILS
# scales it): the relayer pays no fee it is not paid for, every honest session keeps settling.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
log "long tests: the outage, the idle timeout, the crash loop and the sybils ($PROFILE)"
# The workspace's selection, as in scripts/test.sh: another would unify features differently and
# rebuild much of the dependency tree.
workspace=(--locked --profile "$PROFILE" "${WORKSPACE[@]}")
cargo test "${workspace[@]}" --no-run
VILOKANAM_LONG_TESTS=1 cargo test "${workspace[@]}" --test pay_per_second -- --nocapture &
idle=$!
cargo test "${workspace[@]}" --test relay_e2e -- --ignored --nocapture
wait "$idle"
cargo test "${workspace[@]}" --test sybil_e2e -- --ignored --nocapture
log "long tests passed"
