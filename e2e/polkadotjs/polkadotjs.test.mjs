// A standard dApp client (polkadot.js) against the real dev node: it connects, decodes the
// runtime metadata and chain properties, signs a transfer with a dev account, and decodes the
// events of the block that includes it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { signVoucher, vilokanamRpc, vilokanamTypes } from '@vilokanam/sdk';
import { startDevNode } from '../dev-node.mjs';

const node = await startDevNode('pjs');

let api;
after(async () => {
  if (api) await api.disconnect();
  await node.stop();
});

async function connect() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const provider = new WsProvider(node.url, false);
      await provider.connect();
      await provider.isReadyOrError;
      return await ApiPromise.create({
        provider, throwOnConnect: true, noInitWarn: true, rpc: vilokanamRpc, types: vilokanamTypes,
      });
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`node RPC did not come up:\n${node.log()}`);
}

test('polkadot.js decodes metadata, properties and events of the dev chain', { timeout: 180_000 }, async () => {
  api = await connect();

  // Metadata: the runtime's pallets and constants decode.
  assert.equal(api.runtimeVersion.specName.toString(), 'vilokanam');
  for (const pallet of ['system', 'timestamp', 'balances', 'transactionPayment', 'sudo', 'grandpa', 'session', 'validatorSet']) {
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

  // The validators are the session pallet's, their keys registered in genesis: Alice alone on
  // the dev chain, with her own key for Aura.
  const validators = await api.query.session.validators();
  assert.deepEqual(validators.map((v) => v.toString()), [alice.address]);
  const keys = await api.query.session.nextKeys(alice.address);
  assert.equal(u8aToHex(keys.unwrap().aura.toU8a()), u8aToHex(alice.publicKey));
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

/** Signs and sends `tx`, resolves to its block's events once in a block; rejects on failure. */
function send(tx, signer) {
  return new Promise((resolve, reject) => {
    tx.signAndSend(signer, ({ status, dispatchError, events }) => {
      if (dispatchError) reject(new Error(dispatchError.toString()));
      else if (status.isInBlock) resolve(events);
      if (status.isInvalid || status.isDropped || status.isUsurped) reject(new Error(status.type));
    }).catch(reject);
  });
}

test('@vilokanam/sdk: typed vilokanam_* results, and a voucher it signed settles on chain', { timeout: 180_000 }, async () => {
  api ??= await connect();
  const keyring = new Keyring({ type: 'sr25519' });
  const [alice, bob, ferdie] = ['//Alice', '//Bob', '//Ferdie'].map((u) => keyring.addFromUri(u));
  const pageKey = keyring.addFromUri('//Bob//page');

  // Alice's live stream at 10^9 plancks per second.
  await send(api.tx.sudo.sudo(api.tx.streams.addCategory(1, 'Music')), alice);
  const created = await send(api.tx.streams.createStream('SDK', '', 1, [], 1_000_000_000n, null, null), alice);
  const streamId = created.find(({ event }) => api.events.streams.StreamCreated.is(event)).event.data[0].toNumber();
  await send(api.tx.streams.goLive(streamId), alice);

  // Typed results through the SDK's definitions.
  const stream = (await api.rpc.vilokanam.stream(streamId)).unwrap();
  assert.equal(stream.title.toString(), 'SDK');
  assert.equal(stream.pricePerSecond.toBigInt(), 1_000_000_000n);
  assert.ok(stream.status.isLive);
  assert.equal(stream.creator.toString(), alice.address);
  assert.ok((await api.rpc.vilokanam.stream(999_999)).isNone);
  const live = await api.rpc.vilokanam.liveStreams(1, 0, 10);
  assert.ok(live.some((s) => s.id.toNumber() === streamId));
  assert.equal((await api.rpc.vilokanam.quote(streamId, 10)).toBigInt(), 10_000_000_000n);
  assert.equal((await api.rpc.vilokanam.searchStreams('sdk')).length, 1);
  await assert.rejects(api.rpc.vilokanam.liveStreams(null, 0, 0), /limit must be between 1 and 100/);

  // Bob opens a session whose voucher key is his page key; the SDK signs its voucher.
  const opened = await send(api.tx.ticks.openSession(streamId, 60, 1_000_000_000n, pageKey.address), bob);
  const sessionId = opened.find(({ event }) => api.events.ticks.SessionOpened.is(event)).event.data[0].toNumber();
  const voucher = await signVoucher((bytes) => pageKey.sign(bytes), {
    genesis: api.genesisHash.toHex(), sessionId, cumulativeSeconds: 1,
  });
  const session = (await api.rpc.vilokanam.session(sessionId, 1)).unwrap();
  assert.ok(session.open.isTrue);
  assert.equal(session.voucherKey.toString(), pageKey.address);
  assert.equal(session.voucherCost.unwrap().toBigInt(), 1_000_000_000n);

  // Ferdie relays it; the chain verifies the SDK's bytes and settles one second.
  const settled = await send(api.tx.ticks.settleBatch([{
    sessionId, cumulativeSeconds: 1, signer: 'VoucherKey', encoding: 'Raw', signature: { Sr25519: voucher.signature },
  }], { streams: 1, pages: 1 }), ferdie);
  assert.ok(!settled.some(({ event }) => api.events.ticks.VoucherRejected?.is(event)), 'no voucher rejected');
  const after = (await api.rpc.vilokanam.session(sessionId)).unwrap();
  assert.equal(after.settledSeconds.toNumber(), 1);
  assert.equal(after.escrowRemaining.toBigInt(), 59_000_000_000n);
  assert.equal(u8aToHex(pageKey.publicKey), after.voucherKey.toHex());
});
