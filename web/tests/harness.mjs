// Test harness: a real dev node, the real sidecar, the built pages served over HTTP, and
// headless Chromium driven by playwright-core. Every process started here is stopped by
// `stopAll()` (SIGINT, then SIGKILL after a grace period), also when a test fails.

import { spawn, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../e2e/dev-node.mjs';

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = resolve(WEB_DIR, '..');
export const DIST_DIR = join(WEB_DIR, 'dist');
export const ARTIFACTS_DIR = join(WEB_DIR, 'test-artifacts');
/** The running test file's name (`browser`, `wallet`…): its logs and screenshots are named after it. */
export const RUN_NAME = basename(process.argv[1] ?? 'run').replace(/\.test\.m?js$/, '');

const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'vilokanam', 'target');
export const NODE_BIN = process.env.NODE_BIN || join(targetDir, 'release', 'vilokanam-node');
export const SIDECAR_BIN = process.env.SIDECAR_BIN || join(targetDir, 'release', 'vilokanam-sidecar');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const TURN_BIN = process.env.TURN_BIN || '/usr/bin/turnserver';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];

const processes = [];
const cleanups = [];

// Last resort: whatever happens to this test process, its children do not outlive it.
process.on('exit', () => {
  for (const entry of processes) {
    if (!entry.exited) {
      try {
        entry.child.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  }
});

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor(what, fn, { timeoutMs = 60_000, intervalMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

// One free-port helper for every JavaScript end-to-end test.
export { freePort };

export function freeUdpPort() {
  return new Promise((resolvePort, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.on('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolvePort(port));
    });
  });
}

export function ensureArtifacts() {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return ARTIFACTS_DIR;
}

/** Starts `bin` with `args`; its output goes to test-artifacts/<run>-<name>.log. */
function start(name, bin, args, opts = {}) {
  if (!existsSync(bin)) throw new Error(`${name} binary not found at ${bin} (set ${name.toUpperCase()}_BIN)`);
  ensureArtifacts();
  const logPath = join(ARTIFACTS_DIR, `${RUN_NAME}-${name}.log`);
  const log = createWriteStream(logPath);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const entry = { name, child, logPath, exited: false };
  child.once('exit', () => {
    entry.exited = true;
  });
  processes.push(entry);
  return entry;
}

async function rpcUp(port) {
  const res = await fetch(`http://127.0.0.1:${port}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'chain_getHeader', params: [] }),
  });
  const body = await res.json();
  return Number.parseInt(body.result?.number ?? '0x0', 16) >= 1;
}

/** A fresh dev chain (`--dev --tmp`) on free ports; resolves once it has produced a block. */
export async function startNode() {
  const rpcPort = await freePort();
  const p2pPort = await freePort();
  const proc = start('node', NODE_BIN, [
    '--dev', '--tmp', '--rpc-port', String(rpcPort), '--port', String(p2pPort), '--rpc-cors', 'all',
    '--no-telemetry', '--no-prometheus', '--no-mdns',
  ]);
  await waitFor('the node to produce block #1', async () => {
    if (proc.exited) throw new Error(`the node exited; see ${proc.logPath}`);
    return rpcUp(rpcPort);
  }, { timeoutMs: 120_000, intervalMs: 500 });
  return { proc, rpcPort, wsUrl: `ws://127.0.0.1:${rpcPort}` };
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function tcpOpen(port) {
  return new Promise((resolveOpen) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolveOpen(true);
    });
    sock.once('error', () => resolveOpen(false));
  });
}

/**
 * coturn on 127.0.0.1 with the TURN REST shared secret (`use-auth-secret`, as the sidecar's
 * `--turn-secret-file`), configured by scripts/coturn-conf.sh: UDP and TCP on one free port, UDP relays only, to
 * 127.0.0.1 only (the SFU). Resolves once its TCP port accepts connections to
 * `{proc, port, secretFile, urls}`; its log (stdout) is test-artifacts/<run>-turn.log.
 */
export async function startTurn() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vilokanam-web-turn-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  // The configuration scripts/run.sh runs coturn with (scripts/coturn-conf.sh): a fresh secret,
  // relays from 127.0.0.1 to 127.0.0.1 (the SFU) only, on relay ports of their own.
  const minPort = randomInt(50000, 60000 - 41);
  const r = spawnSync(join(REPO_DIR, 'scripts', 'coturn-conf.sh'), [dir, '127.0.0.1', String(port), '127.0.0.1', String(minPort)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/coturn-conf.sh failed:\n${r.stdout}\n${r.stderr}`);
  const secretFile = join(dir, 'turn-secret');
  const conf = join(dir, 'turnserver.conf');
  const proc = start('turn', TURN_BIN, ['-c', conf]);
  await waitFor('coturn to accept TCP connections', async () => {
    if (proc.exited) throw new Error(`coturn exited; see ${proc.logPath}`);
    return tcpOpen(port);
  }, { timeoutMs: 20_000, intervalMs: 200 });
  return {
    proc, port, secretFile,
    urls: [`turn:127.0.0.1:${port}?transport=udp`, `turn:127.0.0.1:${port}?transport=tcp`],
  };
}

/**
 * The sidecar in front of `nodeWsUrl` with a fresh database; resolves once /health is ok.
 * `extraArgs`: more flags (e.g. `--turn-url …`).
 */
export async function startSidecar(nodeWsUrl, { alsoKnownAs = [], extraArgs = [] } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vilokanam-web-sidecar-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const args = [
    '--listen', `127.0.0.1:${port}`, '--node-url', nodeWsUrl, '--db', join(dir, 'sidecar.sqlite'),
    '--relayer-seed', '//Ferdie',
  ];
  // The sidecar serves web/dist with development accounts; its media server goes on a free UDP
  // port (not the default 7071 a running dev setup may hold).
  args.push('--web-dir', DIST_DIR, '--dev-accounts', '--media-listen', `127.0.0.1:${await freeUdpPort()}`);
  // Other origins it is reached at (a reverse proxy in front of it): logins bound to those are
  // its own too.
  if (alsoKnownAs.length) args.push('--public-url', [`http://127.0.0.1:${port}`, ...alsoKnownAs].join(','));
  args.push(...extraArgs, ...(process.env.SIDECAR_EXTRA_ARGS ?? '').split(/\s+/).filter(Boolean));
  const proc = start('sidecar', SIDECAR_BIN, args, { cwd: REPO_DIR });
  await waitFor('the sidecar /health to be ok', async () => {
    if (proc.exited) throw new Error(`the sidecar exited; see ${proc.logPath}`);
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    return res.ok && (await res.json()).chain_connected;
  }, { timeoutMs: 60_000, intervalMs: 500 });
  return { proc, port, origin: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws` };
}

/** Whether the sidecar serves the built pages itself (GET / → web/dist/index.html). */
export async function sidecarServesPages(origin) {
  try {
    const res = await fetch(`${origin}/`);
    if (!res.ok) return false;
    const text = await res.text();
    return text.includes('/assets/home.js');
  } catch {
    return false;
  }
}

/** Builds web/dist (esbuild; a second or two) unless SKIP_BUILD=1. */
export function build() {
  if (process.env.SKIP_BUILD === '1' && existsSync(join(DIST_DIR, 'index.html'))) return;
  const r = spawnSync(process.execPath, [join(WEB_DIR, 'build.mjs')], { cwd: WEB_DIR, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
}

/** Registers a cleanup run by `stopAll()` (in reverse order). */
export function onStop(fn) {
  cleanups.push(fn);
}

async function stopProcess(entry, graceMs = 10_000) {
  if (entry.exited) return;
  const exited = new Promise((r) => entry.child.once('exit', r));
  entry.child.kill('SIGINT');
  const timer = sleep(graceMs).then(() => 'timeout');
  if ((await Promise.race([exited, timer])) === 'timeout' && !entry.exited) {
    entry.child.kill('SIGKILL');
    await exited;
  }
}

/** Stops everything started here: cleanups (browser, servers) first, then the processes. */
export async function stopAll() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (e) {
      console.error('cleanup failed:', e);
    }
  }
  // The sidecar before the node it talks to.
  for (const entry of [...processes].reverse()) {
    await stopProcess(entry);
  }
  processes.length = 0;
}

/** The last `chars` characters of a process log, for failure messages. */
export function tail(proc, chars = 4000) {
  try {
    const text = spawnSync('tail', ['-c', String(chars), proc.logPath], { encoding: 'utf8' }).stdout;
    return `--- ${proc.name} log (${proc.logPath}) ---\n${text}`;
  } catch {
    return '';
  }
}
