#!/usr/bin/env bash
# Our SFU and Janus side by side (sfu/benches/janus.rs): the same webrtc-rs publisher and N
# viewer bots through each, alternating, in one run. Installs Janus (Debian's `janus`) if it is
# missing, makes a network namespace with a veth pair (Janus 1.1.2 gathers no candidates on a
# loopback interface), writes Janus' configuration into a temporary folder (videoroom and the
# HTTP API only, bound to the namespace's address; full ICE, as our server runs in the
# benchmark) and runs the benchmark inside the namespace. Needs root (the namespace).
#
#   scripts/janus-bench.sh --viewers 200 --rounds 2
#   scripts/janus-bench.sh --viewers 5 --seconds 3 --warmup 1     # smoke run
#   JANUS_EVENT_LOOPS=2 scripts/janus-bench.sh --viewers 200       # Janus with 2 shared loops
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

if ! command -v janus >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends janus
fi
NS=vkbench
ADDR=10.203.0.1
if ! ip netns list | grep -qw "$NS"; then
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	# Both ends inside the namespace: the address is on a non-loopback interface.
	ip -n "$NS" link add vkb0 type veth peer name vkb1
	ip -n "$NS" addr add "$ADDR/24" dev vkb0
	ip -n "$NS" link set vkb0 up
	ip -n "$NS" link set vkb1 up
fi

cfg=$(mktemp -d)
trap 'rm -rf "$cfg"' EXIT
lib=/usr/lib/x86_64-linux-gnu/janus
loops=""
if [ -n "${JANUS_EVENT_LOOPS:-}" ]; then
	loops="event_loops = ${JANUS_EVENT_LOOPS}"
fi
cat >"$cfg/janus.jcfg" <<EOF
general: {
	configs_folder = "$cfg"
	plugins_folder = "$lib/plugins"
	transports_folder = "$lib/transports"
	events_folder = "$lib/events"
	loggers_folder = "$lib/loggers"
	debug_level = 3
	session_timeout = 120
	$loops
}
media: {
	rtp_port_range = "40000-60000"
}
nat: {
	nice_debug = false
	ice_enforce_list = "vkb0"
}
plugins: {
	disable = "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so"
}
transports: {
	disable = "libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so,libjanus_websockets.so"
}
events: {
	broadcast = false
}
EOF
cat >"$cfg/janus.transport.http.jcfg" <<EOF
general: {
	base_path = "/janus"
	http = true
	port = 8088
	ip = "$ADDR"
	https = false
}
admin: {
	admin_http = false
	admin_https = false
}
EOF
echo 'general: { }' >"$cfg/janus.plugin.videoroom.jcfg"

# Build first, outside the namespace's timing.
cargo bench --locked --profile "$PROFILE" "${WORKSPACE[@]}" --bench janus --no-run
ip netns exec "$NS" cargo bench --locked --profile "$PROFILE" "${WORKSPACE[@]}" --bench janus -- \
	--address "$ADDR" --janus-config "$cfg" "$@"
