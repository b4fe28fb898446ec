#!/usr/bin/env bash
# Sets up the machine, builds, and runs the main job: a development chain (one validator, Alice,
# producing and finalizing a block every 6 s) and the vilokanam-sidecar beside it (signaling,
# heartbeats relayed to the chain as batched settle_batch extrinsics, chat, metrics), with
# coturn as the TURN server of its members (viewers and creators behind NATs and firewalls that
# block UDP). Ctrl-C stops them all.
#
#   RPC_PORT      node JSON-RPC/WebSocket port (default 9944)
#   P2P_PORT      node libp2p port (default 30333)
#   SIDECAR_ADDR  sidecar HTTP/WebSocket address, and the web pages (default 127.0.0.1:7070)
#   MEDIA_ADDR    the SFU's UDP address (WebRTC, ICE-lite; default 127.0.0.1:7071)
#   BASE_PATH     keep the chain and the sidecar's database here across runs (default: fresh
#                 temporary ones)
#   RELAYER_SEED  the account that pays for settle_batch (default //Ferdie, a dev account)
#   TURN          1 runs coturn beside the sidecar, 0 does not (default 1)
#   TURN_PORT     coturn's UDP and TCP port (default 3479: Debian's own coturn service, when
#                 enabled, holds 3478)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh"

RPC_PORT="${RPC_PORT:-9944}"
P2P_PORT="${P2P_PORT:-30333}"
SIDECAR_ADDR="${SIDECAR_ADDR:-127.0.0.1:7070}"
MEDIA_ADDR="${MEDIA_ADDR:-127.0.0.1:7071}"
RELAYER_SEED="${RELAYER_SEED:-//Ferdie}"
TURN="${TURN:-1}"
TURN_PORT="${TURN_PORT:-3479}"
if [ -n "${BASE_PATH:-}" ]; then
	data="$BASE_PATH"
	mkdir -p "$data"
else
	data="$(mktemp -d -t vilokanam-dev.XXXXXX)"
fi

node_args=(--dev --rpc-port "$RPC_PORT" --port "$P2P_PORT" --rpc-cors all --no-telemetry
	--base-path "$data/chain")
"$NODE_BIN" "${node_args[@]}" &
node_pid=$!
sidecar_pid=""
turn_pid=""
cleanup() {
	[ -n "$sidecar_pid" ] && kill -INT "$sidecar_pid" 2>/dev/null || true
	[ -n "$turn_pid" ] && kill -INT "$turn_pid" 2>/dev/null || true
	kill -INT "$node_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	[ -z "${BASE_PATH:-}" ] && rm -rf "$data"
}
trap cleanup EXIT INT TERM

# The sidecar needs the node's RPC; wait for it (a fresh dev chain answers within seconds).
for _ in $(seq 1 120); do
	if curl -sf -H 'Content-Type: application/json' \
		-d '{"id":1,"jsonrpc":"2.0","method":"system_health","params":[]}' \
		"http://127.0.0.1:$RPC_PORT" >/dev/null; then
		break
	fi
	sleep 0.5
done

# TURN: coturn listens and relays on the SFU's IP and may reach only the SFU; the sidecar hands
# members time-limited credentials derived from the secret they share.
turn_args=()
turn_line="off (TURN=0)"
media_ip="${MEDIA_ADDR%:*}"
if [ "$TURN" = 1 ] && [ "$media_ip" = 0.0.0.0 ]; then
	# coturn's peer rule and the URLs it is handed out under need the SFU's real address.
	turn_line="off: MEDIA_ADDR $MEDIA_ADDR has no concrete IP for coturn (give one)"
	TURN=0
fi
if [ "$TURN" = 1 ]; then
	"$ROOT/scripts/coturn-conf.sh" "$data/turn" "$media_ip" "$TURN_PORT" "$media_ip"
	turnserver -c "$data/turn/turnserver.conf" >"$data/turn/coturn.log" 2>&1 &
	turn_pid=$!
	turn_urls="turn:$media_ip:$TURN_PORT?transport=udp,turn:$media_ip:$TURN_PORT?transport=tcp"
	turn_args=(--turn-url "$turn_urls" --turn-secret-file "$data/turn/turn-secret")
	turn_line="turn:$media_ip:$TURN_PORT (UDP and TCP; log $data/turn/coturn.log)"
fi

"$CARGO_TARGET_DIR/$PROFILE/vilokanam-sidecar" \
	--listen "$SIDECAR_ADDR" \
	--node-url "ws://127.0.0.1:$RPC_PORT" \
	--db "$data/sidecar.sqlite" \
	--relayer-seed "$RELAYER_SEED" \
	--media-listen "$MEDIA_ADDR" \
	--web-dir "$ROOT/web/dist" \
	"${turn_args[@]}" \
	--dev-accounts &
sidecar_pid=$!

cat >&2 <<MSG

  Vilokanam dev chain + sidecar
    chain JSON-RPC / WebSocket : ws://127.0.0.1:$RPC_PORT
    chain Prometheus metrics   : http://127.0.0.1:9615/metrics
    polkadot.js apps           : https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A$RPC_PORT
    web pages (viewer, creator): http://$SIDECAR_ADDR/   http://$SIDECAR_ADDR/creator.html
    sidecar WebSocket          : ws://$SIDECAR_ADDR/ws
    WHIP (OBS) / WHEP          : http://$SIDECAR_ADDR/whip/<stream id>  /whep/<stream id>
    SFU (WebRTC, UDP)          : $MEDIA_ADDR
    TURN (coturn)              : $turn_line
    sidecar health / metrics   : http://$SIDECAR_ADDR/health  http://$SIDECAR_ADDR/metrics
    data                       : $data
  Ctrl-C stops them all.

MSG
# Stop everything when any of them exits.
wait -n "$node_pid" "$sidecar_pid" ${turn_pid:+"$turn_pid"}
