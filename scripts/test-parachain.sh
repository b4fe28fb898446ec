#!/usr/bin/env bash
# The parachain suite (issue 20): Vilokanam as a parachain of a Rococo-local relay chain.
# Kept out of scripts/test.sh: the relay chain node and the collator bring polkadot-service,
# every relay subsystem, RocksDB and the Rococo runtime (about two hours cold on 2 cores; the
# build is cached in $CARGO_TARGET_DIR like every other).
#
# 1. builds the parachain selection (PARACHAIN in env.sh: the parachain runtime, the collator,
#    the relay chain node and its PVF workers) and runs the parachain runtime's tests;
# 2. builds the same runtime one spec version higher (feature `spec-bump`), the Wasm the
#    network test upgrades to;
# 3. runs zombienet/tests/parachain.rs: two relay validators and one collator on loopback;
#    blocks included and finalized (figures printed), vilokanam_* on the collator,
#    pay-per-second with exact balances, a runtime upgrade through the relay chain, and the
#    off-chain worker closing an abandoned session (after the 120-block idle timeout: the test
#    takes about half an hour).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup-parachain.sh"

log "building the parachain selection (${PARACHAIN[*]})"
cargo build --locked --profile "$PROFILE" "${PARACHAIN[@]}"
cargo test --locked --profile "$PROFILE" -p vilokanam-parachain-runtime

log "building the upgrade Wasm (spec version + 1)"
cargo build --locked --profile "$PROFILE" -p vilokanam-parachain-runtime --features spec-bump
wasm="$(find "$CARGO_TARGET_DIR/$PROFILE/wbuild/vilokanam-parachain-runtime" -maxdepth 1 \
	-name '*spec_bump*.compact.compressed.wasm' -print -quit)"
[ -n "$wasm" ] || { log "the spec-bump Wasm was not built"; exit 1; }
# A copy: the next build of the runtime may rewrite wasm-builder's folder.
export VILOKANAM_PARACHAIN_UPGRADE_WASM="$CARGO_TARGET_DIR/parachain-upgrade.compact.compressed.wasm"
cp "$wasm" "$VILOKANAM_PARACHAIN_UPGRADE_WASM"

export VILOKANAM_RELAY="${VILOKANAM_RELAY:-$CARGO_TARGET_DIR/$PROFILE/vilokanam-relay}"
export VILOKANAM_COLLATOR="${VILOKANAM_COLLATOR:-$CARGO_TARGET_DIR/$PROFILE/vilokanam-collator}"
cargo test --locked --profile "$PROFILE" -p vilokanam-zombienet-tests --test parachain -- --nocapture
