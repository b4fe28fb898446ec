#!/usr/bin/env bash
# Writes a coturn configuration for a sidecar's members into DIR: DIR/turnserver.conf and the
# secret it shares with the sidecar, DIR/turn-secret (made once, kept across runs; both 0600,
# so the secret never shows in `ps`). Start it with `turnserver -c DIR/turnserver.conf` and
# give the sidecar `--turn-url turn:IP:PORT?transport=udp,turn:IP:PORT?transport=tcp
# --turn-secret-file DIR/turn-secret`. Used by scripts/run.sh and by the tests.
#
#   scripts/coturn-conf.sh DIR IP PORT MEDIA_IP [MIN_RELAY_PORT]
#
# IP is where coturn listens and relays from; MEDIA_IP the SFU's address, the only peer a relay
# may reach (a member cannot use our TURN server as an open relay to anything else). On a
# loopback IP, coturn must be told to allow loopback peers (and 4.6.1 then insists on no CLI).
set -euo pipefail
dir=$1 ip=$2 port=$3 media_ip=$4 min_port=${5:-49160}
mkdir -p "$dir"
umask 077
[ -s "$dir/turn-secret" ] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$dir/turn-secret"
loopback=""
case "$ip" in 127.*|::1) loopback="allow-loopback-peers" ;; esac
cat >"$dir/turnserver.conf" <<EOF
listening-ip=$ip
relay-ip=$ip
listening-port=$port
min-port=$min_port
max-port=$((min_port + 40))
realm=vilokanam.local
use-auth-secret
static-auth-secret=$(cat "$dir/turn-secret")
# Only the SFU is a permitted peer.
denied-peer-ip=0.0.0.0-255.255.255.255
allowed-peer-ip=$media_ip
no-multicast-peers
$loopback
# Browsers relay over UDP even when they reach coturn over TCP; RFC 6062 TCP relays would only
# serve as a proxy to TCP services.
no-tcp-relay
# Plain TURN over UDP and TCP; turns: (TLS on 443) needs a certificate (docs/SIDECAR.md).
no-tls
no-dtls
no-cli
# Relays per credential's user (a viewer's session, a stream's publisher).
user-quota=4
fingerprint
userdb=$dir/turndb
pidfile=$dir/turnserver.pid
log-file=stdout
simple-log
EOF
