#!/usr/bin/env bash
# Fails when `cargo test` of the workspace would compile a crate differently from `cargo build`
# of it (scripts/build.sh) or from the benchmarks (scripts/bench.sh): a dev-dependency that turns on a feature (tokio's `process`, a
# crate's `default`) makes the second of scripts/run.sh and scripts/test.sh recompile everything
# above that crate (~390 crates for tokio). Compares cargo's unit graphs (every crate to compile,
# with its features, profile and platform), so it reads only the lock file and takes seconds.
# `--unit-graph` is unstable: RUSTC_BOOTSTRAP lets the stable cargo print it, nothing else.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
for command in build test bench; do
	RUSTC_BOOTSTRAP=1 cargo "$command" --locked --profile "$PROFILE" "${WORKSPACE[@]}" \
		--unit-graph -Z unstable-options >"$dir/$command.json"
done
python3 - "$dir/test.json" "$dir/build.json" "$dir/bench.json" <<'PY'
import hashlib, json, sys

def units(path):
    """Every unit keyed as cargo fingerprints it: its package, target, mode, profile, platform
    and features, and the same of every unit it depends on (a dependency built with other
    features rebuilds everything above it)."""
    graph = json.load(open(path))["units"]
    keys = {}

    def key(i):
        if i not in keys:
            unit = dict(graph[i])
            deps = sorted(key(d["index"]) for d in unit.pop("dependencies"))
            text = json.dumps(unit, sort_keys=True) + "".join(deps)
            keys[i] = hashlib.sha256(text.encode()).hexdigest()
        return keys[i]

    return {key(i): graph[i] for i in range(len(graph))}

tested = units(sys.argv[1])
failed = False
for command, path in (("build", sys.argv[2]), ("bench", sys.argv[3])):
    other = units(path)
    # A unit only the other command has is one `cargo test` compiles another way (or above
    # one it compiles another way); the bench targets themselves are the benchmarks' own.
    only = [other[k] for k in other.keys() - tested.keys() if "bench" not in other[k]["target"]["kind"]]
    if not only:
        print(f"cargo {command}: its {len(other)} units compiled as cargo test compiles them")
        continue
    failed = True
    # Name the crates compiled with other features; the rest only sit above one of them.
    shallow = {json.dumps({k: v for k, v in u.items() if k != "dependencies"}, sort_keys=True)
               for u in tested.values()}
    roots = [u for u in only
             if json.dumps({k: v for k, v in u.items() if k != "dependencies"}, sort_keys=True)
             not in shallow]
    print(f"cargo {command} and cargo test of the workspace compile {len(only)} units "
          f"differently, because of:", file=sys.stderr)
    for unit in sorted(roots, key=lambda u: u["pkg_id"]):
        twins = [u["features"] for u in tested.values() if u["pkg_id"] == unit["pkg_id"]
                 and u["target"]["name"] == unit["target"]["name"]]
        print(f"  {unit['pkg_id'].split('#')[-1]} ({unit['target']['name']}): {command} "
              f"{unit['features']}; test {twins}", file=sys.stderr)
if failed:
    print("declare the feature on the workspace dependency (Cargo.toml), or give the "
          "dev-dependency the normal one's features", file=sys.stderr)
    sys.exit(1)
PY
