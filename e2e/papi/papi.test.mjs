// polkadot-api (PAPI), the client polkadot-sdk recommends, against the real dev node: the
// descriptors @vilokanam/sdk ships (`@vilokanam/sdk/papi`, generated from the checked-in metadata
// chain-specs/metadata.scale, which node/tests/chain_specs.rs keeps equal to the runtime's), and it
// runs the pay-per-second flow with typed calls: a category and a live stream, a session opened
// with a page key, a voucher signed by @vilokanam/sdk settled by a relayer, the creator closing the
// session with the refund at once, and every balance moving exactly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'polkadot-api';
import { getWsProvider } from 'polkadot-api/ws';
import { getPolkadotSigner } from 'polkadot-api/signer';
import { vilokanam } from '@vilokanam/sdk/papi';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { WebSocket } from 'ws';
import { signVoucher } from '@vilokanam/sdk';
import { startDevNode } from '../dev-node.mjs';

const node = await startDevNode('papi');

let client;
after(async () => {
  client?.destroy();
  await node.stop();
});

/** Vec<u8> arguments are Uint8Array in PAPI 2; fixed-size byte arrays are hex strings. */
const text = (s) => new TextEncoder().encode(s);

async function waitForRpc() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const up = await new Promise((resolve) => {
      const ws = new WebSocket(node.url);
      ws.on('open', () => { ws.close(); resolve(true); });
      ws.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`node RPC did not come up:\n${node.log()}`);
}

/** Submits `tx` signed by `pair`, waits for its block, fails on a dispatch error. */
async function submit(tx, pair) {
  const signer = getPolkadotSigner(pair.publicKey, 'Sr25519', (m) => pair.sign(m));
  const result = await tx.signAndSubmit(signer);
  assert.ok(result.ok, `dispatch failed: ${JSON.stringify(result.dispatchError, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return result;
}

test('PAPI runs the pay-per-second flow with typed calls; the chain settles a voucher the SDK signed', { timeout: 240_000 }, async () => {
  await cryptoWaitReady();
  await waitForRpc();
  client = createClient(getWsProvider(node.url, { websocketClass: WebSocket }));
  const api = client.getTypedApi(vilokanam);
  // The descriptors are the chain's: PAPI refuses typed calls whose shapes differ from the
  // runtime's, so every call below also checks the checked-in metadata against the node.

  const keyring = new Keyring({ type: 'sr25519' });
  const [alice, bob, ferdie] = ['//Alice', '//Bob', '//Ferdie'].map((u) => keyring.addFromUri(u));
  const pageKey = keyring.addFromUri('//Bob//papi');
  const price = 1_000_000_000n;

  // Governance and Alice's live stream.
  await submit(api.tx.Sudo.sudo({
    call: api.tx.Streams.add_category({ category: 1, name: text('Music') }).decodedCall,
  }), alice);
  const created = await submit(api.tx.Streams.create_stream({
    title: text('PAPI'), metadata: text(''), category: 1, tags: [],
    price_per_second: price, endpoint: undefined, relayer: ferdie.address,
  }), alice);
  const [{ payload: { stream_id: streamId } }] = api.event.Streams.StreamCreated.filter(created.events);
  await submit(api.tx.Streams.go_live({ stream_id: streamId }), alice);

  // Bob opens a 60-second session whose voucher key is his page key.
  const opened = await submit(api.tx.Ticks.open_session({
    stream_id: streamId, max_seconds: 60n, max_price_per_second: price, voucher_key: pageKey.address,
  }), bob);
  const [{ payload: { session_id: sessionId } }] = api.event.Ticks.SessionOpened.filter(opened.events);

  // The SDK signs three seconds; Ferdie, the stream's relayer, settles them.
  const genesis = (await client.getChainSpecData()).genesisHash;
  const voucher = await signVoucher((bytes) => pageKey.sign(bytes), {
    genesis, sessionId, cumulativeSeconds: 3,
  });
  const feeBps = BigInt(await api.query.Payouts.PlatformFeeBps.getValue());
  const free = async (who, at) => (await api.query.System.Account.getValue(who.address, { at })).data.free;
  const beforeSettle = opened.block.hash;
  const aliceBefore = await free(alice, beforeSettle);
  const settled = await submit(api.tx.Ticks.settle_batch({
    vouchers: [{
      session_id: sessionId,
      cumulative_seconds: 3n,
      signer: { type: 'VoucherKey', value: undefined },
      encoding: { type: 'Raw', value: undefined },
      signature: { type: 'Sr25519', value: voucher.signature },
    }],
    witness: { streams: 1, pages: 1 },
  }), ferdie);
  assert.equal(api.event.Ticks.VoucherRejected.filter(settled.events).length, 0, 'the voucher is accepted');
  const paid = 3n * price;
  const platform = (paid * feeBps) / 10_000n;
  assert.equal(await free(alice, settled.block.hash) - aliceBefore, paid - platform, 'the creator is paid 3 seconds');

  // The custom RPC through PAPI's raw request: three seconds settled, the rest in escrow.
  const session = await client._request('vilokanam_session', [Number(sessionId)]);
  assert.equal(session.settledSeconds, 3);
  assert.equal(BigInt(session.escrowRemaining), 57n * price);

  // Alice (the creator) closes it: the viewer gets the other 57 seconds back at once.
  const bobBefore = await free(bob, settled.block.hash);
  const closed = await submit(api.tx.Ticks.close_session({ session_id: sessionId, final_intent: undefined }), alice);
  assert.equal(api.event.Ticks.SessionClosed.filter(closed.events).length, 1);
  assert.equal(await free(bob, closed.block.hash) - bobBefore, 57n * price, 'the refund, exactly');
  // Closed, and still reported for a day: what it settled, what came back, when and why.
  const after = await client._request('vilokanam_session', [Number(sessionId)]);
  assert.equal(after.open, false);
  assert.equal(after.settledSeconds, 3);
  assert.equal(after.escrowRemaining, '0');
  assert.equal(after.closed.refunded, (57n * price).toString());
  assert.equal(after.closed.reason, 'Closed');
  assert.equal(after.closed.closedIn, closed.block.number);
});
