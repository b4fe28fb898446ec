#!/usr/bin/env bash
# Rebuilds the runtime-upgrade test's fixture (node/tests/fixtures/upgrade-from/): the runtime of
# an earlier commit, compressed Wasm as the chain stores it, and that commit's development chain
# spec without its code (the test puts the Wasm back in). node/tests/runtime_upgrade.rs starts a
# node on it and upgrades it to today's runtime.
#
#   scripts/build-upgrade-fixture.sh [COMMIT]   (default 3a83495: spec 102, the last runtime
#                                                before the storage migrations of open sessions)
#
# The old runtime is built in a git worktree with the same target directory (only its own crates
# recompile; ~7 minutes warm), through `cargo check`, whose build script still builds the Wasm.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
commit="${1:-3a83495}"
out="$ROOT/node/tests/fixtures/upgrade-from"
# A fixed path: file paths end up in the Wasm (panic locations), so the same path gives the
# same bytes.
tree=/tmp/vilokanam-upgrade-from
git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
trap 'git -C "$ROOT" worktree remove --force "$tree" 2>/dev/null || true' EXIT
git worktree add --detach "$tree" "$commit" >/dev/null
(cd "$tree" && cargo check --locked --profile "$PROFILE" -p vilokanam-runtime)
wasm="$CARGO_TARGET_DIR/$PROFILE/wbuild/vilokanam-runtime/vilokanam_runtime.compact.compressed.wasm"
mkdir -p "$out"
cp "$wasm" "$out/vilokanam_runtime.compact.compressed.wasm"
python3 - "$tree/chain-specs/dev.json" "$out/chain-spec.json" "$commit" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["genesis"]["runtimeGenesis"]["code"] = "0x"
spec["name"] = f"Vilokanam Development (runtime of {sys.argv[3]})"
json.dump(spec, open(sys.argv[2], "w"), indent=2)
PY
git -C "$tree" rev-parse HEAD > "$out/COMMIT"
log "fixture written to $out from $(cat "$out/COMMIT")"
