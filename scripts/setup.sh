#!/usr/bin/env bash
# Installs what building and testing Vilokanam needs on a Debian machine. Idempotent: anything
# already present is left alone, so it is cheap to run before every build.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

# System packages: a C toolchain for -sys crates, OpenSSL headers (litep2p's WebRTC transport),
# protoc (libp2p/litep2p protocol definitions), git for build metadata, coturn (the TURN server
# scripts/run.sh runs beside the sidecar, and the tests use; its Debian service is left as the
# package leaves it: where systemd enabled it, it holds 3478, so run.sh defaults to 3479).
APT_PACKAGES=(build-essential pkg-config libssl-dev protobuf-compiler git ca-certificates curl
	coturn)
missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	log "installing apt packages: ${missing[*]}"
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust: the toolchain pinned in rust-toolchain.toml, with the Wasm target for the runtime.
if ! command -v rustup >/dev/null 2>&1; then
	log "installing rustup"
	curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain none --profile minimal
fi
TOOLCHAIN="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
if ! rustup toolchain list | grep -q "^$TOOLCHAIN"; then
	log "installing Rust $TOOLCHAIN"
	rustup toolchain install "$TOOLCHAIN" --profile minimal --component rustfmt,clippy
fi
for c in rustfmt clippy; do
	rustup component list --toolchain "$TOOLCHAIN" --installed | grep -q "^$c" ||
		rustup component add "$c" --toolchain "$TOOLCHAIN"
done
rustup target list --toolchain "$TOOLCHAIN" --installed | grep -q '^wasm32v1-none$' ||
	rustup target add wasm32v1-none --toolchain "$TOOLCHAIN"

# Node.js and the npm packages: the SDK, the JavaScript end-to-end tests (polkadot.js), the pages.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	log "installing Node.js"
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
# The SDK first: the pages and the polkadot.js test link it (file:../sdk).
for dir in sdk e2e/polkadotjs e2e/papi web; do
	if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
		log "npm ci in $dir"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	fi
done

# The viewer and creator pages the sidecar serves (web/dist), rebuilt only when a source changed.
if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/public web/build.mjs web/package-lock.json sdk/src -newer web/dist/index.html -print -quit)" ]; then
	log "building the web pages (web/dist)"
	(cd web && npm run build --silent)
fi

# Chromium for the pages' browser tests: Debian's package (Playwright cannot download browsers
# here; playwright-core drives this one).
web_missing=()
for p in chromium fonts-liberation; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || web_missing+=("$p")
done
if ((${#web_missing[@]})); then
	log "installing apt packages: ${web_missing[*]}"
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${web_missing[@]}"
fi

mkdir -p "$CARGO_TARGET_DIR"
log "setup done (toolchain $TOOLCHAIN, target dir $CARGO_TARGET_DIR)"
