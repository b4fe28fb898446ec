// A viewer with a wallet extension approves once and is asked nothing more: it watches stream A,
// switches to stream B by opening B's page (the page it leaves closes A with a beacon), tops up B
// and leaves. The fake wallet (account //Dave) counts every request it gets: exactly one, the
// daily budget. Independently of the page, the test counts the seconds in which the player showed
// frames; the chain must settle each session within that count (never more), credit the creator
// exactly settled × price (split as pallet-payouts does), and refund the rest — with no action of
// the viewer's after leaving.
//
//   NODE_BIN=… SIDECAR_BIN=… node --test web/tests/wallet.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Keyring } from '@polkadot/keyring';
import { stopAll, onStop, waitFor } from './harness.mjs';
import {
  BLOCK_MS, PRICE, TX_TIMEOUT, collectEvents, countDecodedSeconds, creatorGoesLive, decodedSeconds, lifetime,
  newPage, newWalletPage, pageUrl, sessionClosed, shot, signedAndDecoded, split, startStack, startWatching, stepper,
} from './helpers.mjs';

const A_ESCROW = 120n;
const B_ESCROW = 60n;
const B_TOP_UP = 60n;

let sidecar;
let base;
let api;
let provider;
let browser;
let events;
let creatorA;
let creatorB;
let viewer;
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const alice = keyring.addFromUri('//Alice');
const dave = keyring.addFromUri('//Dave');
const DAVE = `ext:test-wallet:${dave.address}`;

const step = stepper({ pages: () => [creatorA, creatorB, viewer], sidecar: () => sidecar });

/** Waits until the page has signed at least `seconds` for its session. */
function watchUntil(page, seconds, timeoutMs) {
  return waitFor(`${seconds} s signed`, async () => (await signedAndDecoded(page)).signed >= seconds, { timeoutMs });
}

function requests() {
  return viewer.walletRequests.map((r) => (r.kind === 'signPayload' ? `${r.method.section}.${r.method.method}` : r.kind));
}

before(async () => {
  ({ sidecar, api, provider, browser, base } = await startStack());
  events = await collectEvents(api);
  onStop(() => events.stop());
  creatorA = await newPage(browser, 'creator-a');
  creatorB = await newPage(browser, 'creator-b');
}, { timeout: 240_000 });

after(async () => {
  if (viewer) await shot(viewer, 'zz-final-wallet-viewer');
  await stopAll();
});

test('one wallet approval: watch, switch streams, top up, leave; the chain settles what was shown', { timeout: 900_000 }, async (t) => {
  const feeBps = (await api.query.payouts.platformFeeBps()).toNumber();
  let streamA;
  let streamB;
  let sessionA;
  let sessionB;
  let decodedA;
  let decodedB;
  let aliceBefore;

  await step(t, 'the creator registers streams A and B and goes live on both', async () => {
    streamA = await creatorGoesLive(creatorA, base, { title: 'Wallet test A', categoryId: 1, categoryName: 'Gaming' });
    streamB = await creatorGoesLive(creatorB, base, { title: 'Wallet test B', categoryName: 'Gaming' });
    aliceBefore = await lifetime(api, alice.address);
  });

  await step(t, 'the wallet viewer approves a daily budget (its one request) and watches A for 60 s', async () => {
    viewer = await newWalletPage(browser, api, 'wallet-viewer', dave);
    await countDecodedSeconds(viewer);
    await viewer.goto(pageUrl(base, '/stream.html', { id: streamA }));
    await viewer.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
    sessionA = await startWatching(viewer, { accountId: DAVE, seconds: A_ESCROW, wallet: true });
    assert.deepEqual(requests(), ['ticks.grantAllowance'], 'the wallet was asked for the daily budget only');
    await watchUntil(viewer, 60, 120_000);
    const { signed, decoded } = await signedAndDecoded(viewer);
    assert.ok(signed <= decoded, `signed ${signed} s, frames shown in ${decoded} s`);
    await shot(viewer, 'w1-watching-a');
  });

  await step(t, 'opening B\'s page closes A (beacon) and watches B with no request', async () => {
    await viewer.goto(pageUrl(base, '/stream.html', { id: streamB }));
    await viewer.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
    decodedA = await decodedSeconds(viewer, sessionA);
    // A is closed by the relayer with no action of the viewer's.
    const closedA = await sessionClosed(events, sessionA);
    assert.equal(closedA.event.data.reason.type, 'Closed');
    sessionB = await startWatching(viewer, { accountId: DAVE, seconds: B_ESCROW, wallet: true });
    assert.notEqual(sessionB, sessionA);
    assert.deepEqual(requests(), ['ticks.grantAllowance'], 'no request to switch streams');
  });

  await step(t, 'B is topped up from the budget with no request, watched for 30 s, and left', async () => {
    await watchUntil(viewer, 15, 60_000);
    await viewer.getByLabel('Add seconds').fill(String(B_TOP_UP));
    await viewer.getByRole('button', { name: 'Top up' }).click();
    await viewer.waitForSelector(`#watch-status[data-state="ok"]:has-text("Added ${B_TOP_UP} s from your daily budget")`,
      { timeout: TX_TIMEOUT });
    const topped = await waitFor('SessionToppedUp on chain',
      () => events.find('ticks', 'SessionToppedUp', (d) => d.sessionId.eqn(sessionB))[0], { timeoutMs: 2 * BLOCK_MS });
    assert.equal(topped.event.data.maxSeconds.toBigInt(), B_ESCROW + B_TOP_UP);
    await watchUntil(viewer, 30, 60_000);
    await viewer.getByRole('button', { name: 'Leave and settle' }).click();
    await viewer.waitForSelector('#leave-summary:not([hidden])', { timeout: TX_TIMEOUT + 10 * BLOCK_MS });
    decodedB = await decodedSeconds(viewer, sessionB);
    assert.deepEqual(requests(), ['ticks.grantAllowance'], 'no request to top up or to leave');
    await shot(viewer, 'w2-left-b');
  });

  await step(t, 'the chain: each session settled within the seconds shown, the creator credited exactly, the rest refunded', async () => {
    let paidTotal = 0n;
    const creatorShare = [];
    for (const [name, id, decoded, escrowSeconds, stream] of [
      ['A', sessionA, decodedA, A_ESCROW, streamA],
      ['B', sessionB, decodedB, B_ESCROW + B_TOP_UP, streamB],
    ]) {
      const { event } = await sessionClosed(events, id);
      const settled = event.data.settledSeconds.toNumber();
      assert.ok(settled <= decoded && settled >= decoded - 2,
        `session ${name}: settled ${settled} s for frames shown in ${decoded} s`);
      assert.equal(event.data.reason.type, 'Closed', `session ${name} closed at once by the relayer`);
      const paid = BigInt(settled) * PRICE;
      assert.equal(event.data.refunded.toBigInt(), escrowSeconds * PRICE - paid, `session ${name}: refund = escrow − paid`);
      assert.equal((await api.query.payouts.streamEarnings(stream)).toBigInt(), paid, `stream ${name} earned exactly`);
      paidTotal += paid;
      creatorShare.push(split(paid, feeBps).creator);
    }
    assert.ok(paidTotal > 0n);
    assert.equal(await lifetime(api, alice.address) - aliceBefore, creatorShare[0] + creatorShare[1], 'creator credited exactly');
    // Open A, open B, top up B: three delegate calls under the one allowance.
    const allowance = await provider.send('vilokanam_allowance', [dave.address]);
    assert.equal(allowance.nonce, 3);
    assert.equal(viewer.walletRequests.length, 1, 'exactly one wallet request in all');
  });
});
