// A standard dApp client (polkadot.js) against the real dev node: it connects, decodes the
// runtime metadata and chain properties, signs a transfer with a dev account, and decodes the
// events of the block that includes it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';

const NODE_BIN = process.env.NODE_BIN;
assert.ok(NODE_BIN, 'NODE_BIN must point at the vilokanam-node binary');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const base = mkdtempSync(join(tmpdir(), 'vilokanam-pjs-'));
const rpcPort = await freePort();
const p2pPort = await freePort();
const node = spawn(NODE_BIN, [
  '--dev', '--base-path', base, '--rpc-port', String(rpcPort), '--port', String(p2pPort),
  '--no-telemetry', '--no-mdns', '--no-prometheus',
], { stdio: ['ignore', 'ignore', 'pipe'] });
let nodeLog = '';
node.stderr.on('data', (d) => { nodeLog = (nodeLog + d).slice(-20000); });

let api;
after(async () => {
  if (api) await api.disconnect();
  node.kill('SIGINT');
  await new Promise((r) => node.once('exit', r));
  rmSync(base, { recursive: true, force: true });
});

async function connect() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const provider = new WsProvider(`ws://127.0.0.1:${rpcPort}`, false);
      await provider.connect();
      await provider.isReadyOrError;
      return await ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true });
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`node RPC did not come up:\n${nodeLog}`);
}

test('polkadot.js decodes metadata, properties and events of the dev chain', { timeout: 180_000 }, async () => {
  api = await connect();

  // Metadata: the runtime's pallets and constants decode.
  assert.equal(api.runtimeVersion.specName.toString(), 'vilokanam');
  for (const pallet of ['system', 'timestamp', 'balances', 'transactionPayment', 'sudo', 'grandpa']) {
    assert.ok(api.query[pallet], `metadata exposes ${pallet}`);
  }
  assert.equal(api.consts.balances.existentialDeposit.toBigInt(), 1_000_000_000n);

  // Chain properties drive how wallets display balances.
  const props = await api.rpc.system.properties();
  assert.equal(props.tokenSymbol.unwrap()[0].toString(), 'VLK');
  assert.equal(props.tokenDecimals.unwrap()[0].toNumber(), 12);

  // A transfer signed by polkadot.js, and the events of its block decoded.
  const keyring = new Keyring({ type: 'sr25519' });
  const alice = keyring.addFromUri('//Alice');
  const ferdie = keyring.addFromUri('//Ferdie');
  const amount = 4_242_000_000_000n;
  const before = (await api.query.system.account(ferdie.address)).data.free.toBigInt();

  const blockHash = await new Promise((resolve, reject) => {
    api.tx.balances.transferKeepAlive(ferdie.address, amount)
      .signAndSend(alice, ({ status, dispatchError }) => {
        if (dispatchError) reject(new Error(dispatchError.toString()));
        if (status.isFinalized) resolve(status.asFinalized);
        if (status.isInvalid || status.isDropped || status.isUsurped) reject(new Error(status.type));
      })
      .catch(reject);
  });

  const events = await (await api.at(blockHash)).query.system.events();
  const transfer = events.find(({ event }) => api.events.balances.Transfer.is(event));
  assert.ok(transfer, 'the block carries a decoded Balances.Transfer event');
  const [from, to, value] = transfer.event.data;
  assert.equal(from.toString(), alice.address);
  assert.equal(to.toString(), ferdie.address);
  assert.equal(value.toBigInt(), amount);
  assert.ok(events.some(({ event }) => api.events.system.ExtrinsicSuccess.is(event)));

  const afterFree = (await api.query.system.account(ferdie.address)).data.free.toBigInt();
  assert.equal(afterFree - before, amount);
});
