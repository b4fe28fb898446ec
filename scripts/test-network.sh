#!/usr/bin/env bash
# The multi-validator network tests: four validators of vilokanam-node spawned natively by
# zombienet-sdk from zombienet/network.toml; a validator is killed and restarted while blocks and
# finality continue. Kept out of scripts/test.sh for CI's time budget (see there).
#
# The suite also proves forks (zombienet/tests/fork.rs, on zombienet/fork.toml: validators that
# sync only with the reserved peers the test adds and removes): alice is cut off, and her own
# branch closes a viewer's session and bans another while the other three finalize a branch
# without either; once alice is linked again and takes their branch, the real sidecar that
# follows her must let both viewers watch again. That test also needs the sidecar binary.
#
# The validator set changes on the running network (zombienet/tests/validators.rs): a fifth node
# generates its keys, its account registers them and root adds it; a validator is killed, then
# removed; finality continues throughout.
#
# Then a client as a developer outside the project writes one (clients/subxt: subxt's code
# generated from chain-specs/metadata.scale, no crate of ours) runs the pay-per-second flow against
# a dev node: a stream, a session, a voucher settled and its replay refused, the refund.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
# The node and the sidecar of this checkout (a no-op when built; the node left by weights.sh
# would be the benchmark build).
"$ROOT/scripts/build.sh"
export VILOKANAM_NODE="${VILOKANAM_NODE:-$NODE_BIN}"
SIDECAR_BIN="$CARGO_TARGET_DIR/$PROFILE/vilokanam-sidecar"
export VILOKANAM_SIDECAR_BIN="${VILOKANAM_SIDECAR_BIN:-$SIDECAR_BIN}"
cargo test --locked --profile "$PROFILE" -p vilokanam-zombienet-tests -- --nocapture
cargo test --locked --profile "$PROFILE" -p vilokanam-subxt-client -- --nocapture
