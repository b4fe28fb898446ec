#!/usr/bin/env bash
# try-runtime for today's runtime upgrade (issue 20): a node runs the previous runtime (the
# fixture node/tests/fixtures/upgrade-from/, spec 102) with streams and open sessions made through
# its own calls; frame-remote-externalities snapshots its state over JSON-RPC into a file; on that
# file alone, today's runtime built with `try-runtime` runs the upgrade's single-block migrations
# with their checks, the multi-block migrations block by block with theirs, then
# `Executive::try_runtime_upgrade` with every check (storage versions, the whole state decoding
# with today's types, every pallet's try_state, a second run changing nothing).
# See try-runtime/tests/previous_chain.rs, and docs/OPERATORS.md for running it against a live
# chain before an upgrade.
#
# Kept out of scripts/test.sh: the runtime with `try-runtime` recompiles FRAME (~8 minutes on
# 2 cores over the normal build). The upgrade itself, on a running node, is tested in
# scripts/test.sh (node/tests/runtime_upgrade.rs).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
# The node that runs the previous runtime (a no-op when built).
"$ROOT/scripts/build.sh"
VILOKANAM_NODE_BIN="${VILOKANAM_NODE_BIN:-$NODE_BIN}" \
	cargo test --locked --profile "$PROFILE" -p vilokanam-try-runtime -- --nocapture
