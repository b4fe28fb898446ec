#!/usr/bin/env bash
# Sets up the machine and runs every test: formatting, the workspace's unit and integration
# tests (pallets, runtime API/RPC, chain specs), the end-to-end tests against the real node, the
# pallets' benchmark tests and the polkadot.js test — all in the one release profile.
#
# The multi-validator network tests (zombienet) are a separate command, scripts/test-network.sh:
# zombienet-sdk adds ~12 minutes of compiling (kube, subxt 0.44, older polkadot-sdk crates) and
# ~2 minutes of running, which with the ~45-minute cold node build does not fit CI's budget.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
start=$(date +%s)

"$ROOT/scripts/setup.sh"

log "cargo fmt --check"
cargo fmt --all -- --check
"$ROOT/scripts/check-build-parity.sh"

# Builds the node binary too: the end-to-end tests in node/tests start it
# (CARGO_BIN_EXE_vilokanam-node), in the same profile as the tests.
log "cargo test --workspace ($PROFILE)"
cargo test --locked --profile "$PROFILE" "${WORKSPACE[@]}"

# Every benchmark runs once as a test (benchmarks v2 `impl_benchmark_test_suite`), in the
# pallets' mock runtimes: the weights script relies on them working.
log "benchmark tests (runtime-benchmarks)"
cargo test --locked --profile "$PROFILE" -p pallet-streams -p pallet-payouts -p pallet-ticks -p pallet-validator-set \
	--features runtime-benchmarks

# A standard dApp client against the real node: polkadot.js decodes metadata and events, calls
# vilokanam_* through @vilokanam/sdk's definitions, and the chain settles a voucher the SDK signed.
log "polkadot.js end-to-end test"
NODE_BIN="$NODE_BIN" node --test e2e/polkadotjs/

# polkadot-api (PAPI): the descriptors @vilokanam/sdk ships (`@vilokanam/sdk/papi`), generated
# afresh from the checked-in metadata (which node/tests/chain_specs.rs holds equal to the
# runtime's), then the pay-per-second flow with typed calls against the real node.
log "polkadot-api (PAPI) end-to-end test"
rm -rf sdk/papi/dist sdk/papi/generated.json sdk/papi/package.json
(cd sdk && npx --no-install papi generate)
NODE_BIN="$NODE_BIN" node --test e2e/papi/

# The SDK the pages use: its payloads against the vectors the Rust encoders wrote
# (sidecar/tests/sdk_vectors.rs keeps them current), its clients against stand-ins; then the
# package as npm would publish it, installed in an empty folder.
log "@vilokanam/sdk: unit tests and the packed package"
node --test sdk/test/
"$ROOT/scripts/check-sdk-package.sh"

# The pages' pure modules (the watch meter, page keys, extrinsic bytes, config): no
# binaries needed.
log "web pages: unit tests"
node --test web/tests/unit/

# The viewer and creator pages in headless Chromium against the real node and sidecar: a fake
# camera published through the SFU, a paying viewer, chat, moderation, leave with the refund;
# a wallet asked exactly once for a day of watching; a lying sidecar that cannot make the page
# sign more than it showed. One file at a time: each rebuilds web/dist and starts its own chain.
log "web pages: browser end-to-end tests"
NODE_BIN="$NODE_BIN" SIDECAR_BIN="$CARGO_TARGET_DIR/$PROFILE/vilokanam-sidecar" \
	node --test --test-concurrency=1 web/tests/*.test.mjs

log "all tests passed in $(( $(date +%s) - start )) s"
