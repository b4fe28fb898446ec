#!/usr/bin/env bash
# Sets up the machine, builds, and runs a development chain: one validator (Alice) that
# produces and finalizes a block every 6 s. Ctrl-C stops it.
#
#   RPC_PORT   JSON-RPC/WebSocket port (default 9944)
#   P2P_PORT   libp2p port (default 30333)
#   BASE_PATH  keep the chain here across runs (default: a fresh temporary chain)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh"

RPC_PORT="${RPC_PORT:-9944}"
P2P_PORT="${P2P_PORT:-30333}"
args=(--dev --rpc-port "$RPC_PORT" --port "$P2P_PORT" --rpc-cors all --no-telemetry)
if [ -n "${BASE_PATH:-}" ]; then args+=(--base-path "$BASE_PATH"); fi

cat >&2 <<MSG

  Vilokanam dev chain
    JSON-RPC / WebSocket : ws://127.0.0.1:$RPC_PORT
    Prometheus metrics   : http://127.0.0.1:9615/metrics
    polkadot.js apps     : https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A$RPC_PORT
  Ctrl-C stops it.

MSG
exec "$NODE_BIN" "${args[@]}"
