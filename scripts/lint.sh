#!/usr/bin/env bash
# Clippy over the workspace with warnings denied. Separate from test.sh: clippy re-checks the
# whole dependency tree (~15 minutes cold on 2 cores), which does not fit CI's budget on top of
# the build and tests.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
cargo clippy --locked --profile "$PROFILE" --workspace --exclude vilokanam-try-runtime \
	--exclude vilokanam-parachain-runtime --exclude vilokanam-collator --exclude vilokanam-local-relay \
	--all-targets -- -D warnings
# The try-runtime checks on their own: beside the node their `try-runtime` features reach
# pallet-staking 50.0.0 (through frame-benchmarking-cli), which does not compile with
# pallet-session's `try-runtime` and without its own.
cargo clippy --locked --profile "$PROFILE" -p vilokanam-try-runtime --all-targets -- -D warnings
# The parachain selection on its own (`--parachain`): checking the collator and the relay chain
# node means checking polkadot-service and every relay subsystem (tens of minutes cold).
if [ "${1:-}" = "--parachain" ]; then
	cargo clippy --locked --profile "$PROFILE" "${PARACHAIN[@]}" --all-targets -- -D warnings
fi
