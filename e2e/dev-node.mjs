// The real dev node for the JavaScript end-to-end tests (e2e/polkadotjs, e2e/papi): started on
// free ports in a temporary directory, its log kept for failure messages, stopped with SIGINT.
// Node.js built-ins only, so that every test package can import it by path.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Starts `$NODE_BIN --dev`. Returns `{url, rpcPort, log(), stop()}`; `stop` waits for the exit
 * and removes the base path.
 */
export async function startDevNode(name) {
  const bin = process.env.NODE_BIN;
  assert.ok(bin, 'NODE_BIN must point at the vilokanam-node binary');
  const base = mkdtempSync(join(tmpdir(), `vilokanam-${name}-`));
  const rpcPort = await freePort();
  const node = spawn(bin, [
    '--dev', '--base-path', base, '--rpc-port', String(rpcPort), '--port', String(await freePort()),
    '--no-telemetry', '--no-mdns', '--no-prometheus',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  node.stderr.on('data', (d) => { log = (log + d).slice(-20000); });
  return {
    rpcPort,
    url: `ws://127.0.0.1:${rpcPort}`,
    log: () => log,
    async stop() {
      node.kill('SIGINT');
      await new Promise((r) => node.once('exit', r));
      rmSync(base, { recursive: true, force: true });
    },
  };
}
