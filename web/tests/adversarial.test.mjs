// A sidecar that lies cannot make the page pay for seconds it did not show. The viewer page talks
// to the real sidecar through a WebSocket proxy (the operator's reverse proxy, one of the
// sidecar's public URLs) that inflates every `ack` by 1000 s and answers every other heartbeat
// with a forged `stale` error instead of the real reply. The page must never sign more than the
// seconds in which it showed frames (counted independently by the test) and must keep signing as
// it watches, undisturbed.
//
// A sidecar cannot log in elsewhere with a page's signature: a creator's page pointed at a
// sidecar that relays another sidecar's challenge (a stream's creator chooses its viewers'
// sidecar) refuses to sign, and nothing reaches the honest sidecar.
//
//   NODE_BIN=… SIDECAR_BIN=… node --test web/tests/adversarial.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { freePort, onStop, sleep, stopAll, waitFor } from './harness.mjs';
import {
  BLOCK_MS, PRICE, TX_TIMEOUT, collectEvents, countDecodedSeconds, creatorGoesLive, dataInt, decodedSeconds, newPage,
  pageUrl, sessionClosed, shot, signedAndDecoded, startStack, startWatching, stepper,
} from './helpers.mjs';

const INFLATION = 1000;

/**
 * A proxy in front of the sidecar's WebSocket at `target()`, on `ws://127.0.0.1:<port>/ws`. With
 * `lie`, every heartbeat is forwarded (the SFU keeps its media flowing) and recorded in
 * `heartbeats`; its reply is replaced: every other one by a forged `stale` error, the others
 * (acks) inflated. Every message from pages is kept in `fromPages`. With `forwardHost`, the
 * page's `Host` goes to the sidecar, as a reverse proxy's does; without, the proxy's own
 * connection names the sidecar's host, as a relaying sidecar's does.
 */
async function startProxy(target, { lie, forwardHost }) {
  const port = await freePort();
  const server = http.createServer((req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, path: '/ws' });
  const proxy = {
    url: `ws://127.0.0.1:${port}/ws`, origin: `http://127.0.0.1:${port}`, heartbeats: [], forged: 0, inflated: 0,
    fromPages: [],
  };
  wss.on('connection', (page, req) => {
    const sidecar = new WebSocket(target(), forwardHost ? { headers: { host: req.headers.host } } : {});
    const early = [];
    const forge = []; // per forwarded heartbeat, in order: whether to forge its reply
    let n = 0;
    sidecar.on('open', () => early.splice(0).forEach((m) => sidecar.send(m)));
    page.on('message', (data) => {
      const text = data.toString();
      const msg = JSON.parse(text);
      proxy.fromPages.push(msg);
      if (lie && msg.type === 'heartbeat') {
        proxy.heartbeats.push(msg);
        forge.push(++n % 2 === 0);
      }
      if (sidecar.readyState === WebSocket.OPEN) sidecar.send(text);
      else early.push(text);
    });
    sidecar.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      const reply = msg.type === 'ack' || (msg.type === 'error' && msg.request === 'heartbeat');
      if (!lie) {
        page.send(data.toString());
      } else if (reply && forge.shift()) {
        proxy.forged += 1;
        page.send(JSON.stringify({
          v: 1, type: 'error', code: 'stale', message: 'voucher not above the last acknowledged one', request: 'heartbeat',
        }));
      } else if (msg.type === 'ack') {
        proxy.inflated += 1;
        page.send(JSON.stringify({ ...msg, cumulative_seconds: msg.cumulative_seconds + INFLATION }));
      } else {
        page.send(data.toString());
      }
    });
    page.on('close', () => sidecar.close());
    sidecar.on('close', () => page.close());
    page.on('error', () => sidecar.close());
    sidecar.on('error', () => page.close());
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  proxy.close = () => new Promise((r) => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.close(r);
  });
  return proxy;
}

let sidecar;
let base;
let api;
let browser;
let events;
let proxy;
let relay;
let creator;
let viewer;

const step = stepper({ pages: () => [creator, viewer], sidecar: () => sidecar });

before(async () => {
  proxy = await startProxy(() => sidecar.wsUrl, { lie: true, forwardHost: true });
  onStop(() => proxy.close());
  relay = await startProxy(() => sidecar.wsUrl, { lie: false, forwardHost: false });
  onStop(() => relay.close());
  // The lying proxy is one of the sidecar's names; the relay is not.
  ({ sidecar, api, browser, base } = await startStack({ alsoKnownAs: [proxy.origin] }));
  events = await collectEvents(api);
  onStop(() => events.stop());
  creator = await newPage(browser, 'creator');
}, { timeout: 240_000 });

after(async () => {
  if (viewer) await shot(viewer, 'zz-final-adversarial-viewer');
  await stopAll();
});

test('inflated acks and forged errors do not change what the page signs', { timeout: 600_000 }, async (t) => {
  let streamId;
  let sessionId;

  await step(t, 'the creator goes live', async () => {
    streamId = await creatorGoesLive(creator, base, { title: 'Adversarial', categoryId: 1, categoryName: 'Gaming' });
  });

  await step(t, 'a sidecar relaying the honest one\'s challenge gets no signature from the creator', async () => {
    const other = await newPage(browser, 'creator-relayed');
    // ?sidecar= points the page at the relay (pages and /config.json still come from the sidecar).
    await other.goto(pageUrl(base, '/creator.html', { sidecar: relay.url }));
    await other.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
    await other.getByLabel('Account', { exact: true }).selectOption('//Alice');
    await other.getByRole('button', { name: 'Open Adversarial in the studio' }).click();
    await other.waitForSelector(`#studio[data-stream-id="${streamId}"]:not([hidden])`);
    await other.getByRole('button', { name: 'Get OBS credentials' }).click();
    await other.waitForSelector('#whip-status[data-state="error"]', { timeout: 20_000 });
    const text = await other.locator('#whip-status').textContent();
    assert.match(text, /refused to sign in/);
    assert.match(text, new RegExp(`not ${relay.origin.replace(/[.]/g, '\\.')}`));
    assert.ok(!relay.fromPages.some((m) => m.type === 'auth'), 'no auth message left the page');
    assert.equal(await other.locator('#whip-credentials').isHidden(), true, 'no OBS token');
    await shot(other, 'a0-relayed-login-refused');
    await other.context().close();
  });

  await step(t, 'the viewer watches through the lying proxy and signs only the seconds it showed', async () => {
    viewer = await newPage(browser, 'viewer');
    await countDecodedSeconds(viewer);
    // ?sidecar= points the page at the proxy, one of the sidecar's public URLs (the pages and
    // /config.json still come from the sidecar itself).
    await viewer.goto(pageUrl(base, '/stream.html', { id: streamId, sidecar: proxy.url }));
    await viewer.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
    sessionId = await startWatching(viewer, { accountId: '//Bob', seconds: 300 });
    await waitFor('forged errors and inflated acks to reach the page', () => proxy.forged >= 2 && proxy.inflated >= 2,
      { timeoutMs: 30_000 });
    const first = await signedAndDecoded(viewer);
    await sleep(22_000);
    const heartbeats = proxy.heartbeats.filter((h) => h.session_id === sessionId);
    const highest = Math.max(...heartbeats.map((h) => h.cumulative_seconds));
    const later = await signedAndDecoded(viewer);

    assert.ok(highest <= later.decoded, `the page signed ${highest} s; frames were shown in ${later.decoded} s`);
    assert.ok(later.signed - first.signed >= 18, `it kept signing: ${first.signed} → ${later.signed} s in 22 s`);
    assert.ok(later.decoded - later.signed <= 2, `signed ${later.signed} s, within 2 s of the ${later.decoded} s shown`);
    for (let i = 1; i < heartbeats.length; i++) {
      assert.ok(heartbeats[i].cumulative_seconds > heartbeats[i - 1].cumulative_seconds, 'every voucher above the last one');
    }
    for (const h of heartbeats) {
      assert.equal(h.signer, 'voucher_key');
      assert.equal(h.encoding, 'raw');
    }
    // An inflated ack is never shown as paid: paid ≤ signed × price.
    const paid = await dataInt(viewer, '#amount-paid', 'plancks');
    const signed = BigInt(await viewer.evaluate(() => window.vilokanam.signed));
    assert.ok(paid <= signed * PRICE, `paid shown ${paid} for ${signed} s signed`);
    await shot(viewer, 'a1-watching-through-proxy');
  });

  await step(t, 'the viewer leaves: the chain settles no more than the seconds shown', async () => {
    await viewer.getByRole('button', { name: 'Leave and settle' }).click();
    await viewer.waitForSelector('#leave-summary:not([hidden])', { timeout: TX_TIMEOUT + 10 * BLOCK_MS });
    const decoded = await decodedSeconds(viewer, sessionId);
    const { event } = await sessionClosed(events, sessionId);
    const settled = event.data.settledSeconds.toNumber();
    assert.ok(settled <= decoded && settled >= decoded - 2, `settled ${settled} s for frames shown in ${decoded} s`);
    assert.equal(event.data.refunded.toBigInt(), 300n * PRICE - BigInt(settled) * PRICE);
  });
});
