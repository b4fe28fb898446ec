// Browser end-to-end test of the viewer and creator pages against a real dev chain and the real
// sidecar, in headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core.
//
//   NODE_BIN=… SIDECAR_BIN=… node --test web/tests/
//
// The creator (//Alice, in one browser context) registers a stream with a 10 % split to
// //Charlie and goes live publishing the fake camera; a viewer (//Bob, another context) finds it
// on the home page, opens a session, watches (vouchers every second, the counter rises), chats
// both ways while the creator deletes a message, follows, tips, and leaves. Then the chain must
// show the exact settlement: the session closed, the creator and the collaborator credited
// exactly seconds × price (and the tip) split per the pallets' rules, the viewer refunded
// escrow − paid. Finally the creator bans the viewer (on chain) and ends the stream.
//
// MEDIA: the creator's fake camera reaches the viewer through the sidecar's SFU: frames are
// decoded (getStats) and the picture is not uniform (a canvas check).
//
// Screenshots and process logs: web/test-artifacts/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { hexToU8a, stringToU8a, u8aConcat, u8aToHex, u8aWrapBytes } from '@polkadot/util';
import { chromium } from 'playwright-core';
import {
  ARTIFACTS_DIR, CHROMIUM, CHROMIUM_ARGS, build, ensureArtifacts, onStop, sidecarServesPages,
  startNode, startSidecar, stopAll, tail, waitFor,
} from './harness.mjs';

const PRICE = 1_000_000_000n; // 0.001 VLK per second (12 decimals)
const ESCROW_SECONDS = 120n;
const TIP = 500_000_000_000n; // 0.5 VLK
const SPLIT_PPM = 100_000; // 10 % to the collaborator
const BLOCK_MS = 6_000;
const TX_TIMEOUT = 8 * BLOCK_MS; // a transaction is in a block within one or two blocks

let node;
let sidecar;
let base; // origin serving the pages
let query; // ?node=…&sidecar=… when the pages are not served by the sidecar
let api;
let provider;
let browser;
let creatorPage;
let viewerPage;
let walletPage;
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const alice = keyring.addFromUri('//Alice');
const bob = keyring.addFromUri('//Bob');
const charlie = keyring.addFromUri('//Charlie');
const dave = keyring.addFromUri('//Dave');

function shot(page, name) {
  return page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`), fullPage: true }).catch(() => {});
}

function url(path, params = {}) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries({ ...query, ...params })) u.searchParams.set(k, String(v));
  return u.toString();
}

async function newPage(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  page.on('dialog', (d) => d.accept());
  page.logs = logs;
  page.label = name;
  return page;
}

/** Integer value of a data attribute once it is set. */
async function dataInt(page, selector, attr) {
  const v = await page.locator(selector).getAttribute(`data-${attr}`);
  return v === null || v === '' ? null : BigInt(v);
}

/** The escrow account of pallet-ticks: "modl" ++ PalletId ++ zeros (into_account_truncating). */
function palletAccount(palletId) {
  const raw = u8aConcat(stringToU8a('modl'), palletId.toU8a(), new Uint8Array(32));
  return keyring.encodeAddress(raw.subarray(0, 32));
}

async function free(address) {
  return (await api.query.system.account(address)).data.free.toBigInt();
}

async function lifetime(address) {
  return (await api.query.payouts.lifetimeEarnings(address)).toBigInt();
}

/** What pallet-payouts credits for `amount`: fee to the platform, shares, rest to the creator. */
function split(amount, feeBps, sharesPpm) {
  const fee = (amount * BigInt(feeBps)) / 10_000n;
  const rest = amount - fee;
  const parts = sharesPpm.map((ppm) => (rest * BigInt(ppm)) / 1_000_000n);
  return { fee, parts, creator: rest - parts.reduce((a, b) => a + b, 0n) };
}

/**
 * A page with a fake polkadot.js-compatible wallet extension injected (window.injectedWeb3), whose
 * one account is //Dave: it signs in this test process like a real wallet would (signRaw wraps
 * the bytes in <Bytes>…</Bytes>; signPayload signs the extrinsic payload).
 */
async function newWalletPage(name, pair) {
  const page = await newPage(name);
  page.signRawCalls = 0;
  await page.exposeFunction('__fakeWalletSignRaw', (address, data) => {
    assert.equal(address, pair.address);
    page.signRawCalls += 1;
    return u8aToHex(pair.sign(u8aWrapBytes(hexToU8a(data))));
  });
  await page.exposeFunction('__fakeWalletSignPayload', (payload) => {
    assert.equal(payload.address, pair.address);
    api.registry.setSignedExtensions(payload.signedExtensions);
    const extrinsic = api.registry.createType('ExtrinsicPayload', payload, { version: payload.version });
    return extrinsic.sign(pair).signature;
  });
  await page.addInitScript(({ address }) => {
    const account = { address, name: 'Dave (test wallet)', type: 'sr25519' };
    let id = 0;
    window.injectedWeb3 = {
      'test-wallet': {
        version: '0.0.1',
        enable: async () => ({
          accounts: { get: async () => [account], subscribe: (cb) => { cb([account]); return () => {}; } },
          metadata: { get: async () => [], provide: async () => true },
          signer: {
            signRaw: async ({ address: a, data }) => ({ id: ++id, signature: await window.__fakeWalletSignRaw(a, data) }),
            signPayload: async (payload) => ({ id: ++id, signature: await window.__fakeWalletSignPayload(payload) }),
          },
        }),
      },
    };
  }, { address: pair.address });
  return page;
}

/** WebRTC counters of both pages and the SFU's /media/stats, for a failure message. */
async function mediaDiagnostics() {
  const rtp = (page) => page.evaluate(async () => {
    const pc = window.vilokanam?.media?.pc;
    if (!pc) return 'no peer connection';
    const out = [];
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' || s.type === 'outbound-rtp') {
        const { type, kind, packetsReceived, packetsSent, framesReceived, framesDecoded, framesEncoded, keyFramesDecoded,
          keyFramesEncoded, pliCount, firCount, nackCount } = s;
        out.push({ type, kind, packetsReceived, packetsSent, framesReceived, framesDecoded, framesEncoded, keyFramesDecoded,
          keyFramesEncoded, pliCount, firCount, nackCount });
      }
    });
    return { connectionState: pc.connectionState, rtp: out };
  }).catch((e) => String(e));
  const sfu = await fetch(`${sidecar.origin}/media/stats`).then((r) => r.text()).catch((e) => String(e));
  return `creator: ${JSON.stringify(await rtp(creatorPage))}\nviewer: ${JSON.stringify(await rtp(viewerPage))}\n/media/stats: ${sfu}`;
}

// Steps run in order; once one fails, the later ones are skipped (they depend on it).
let broken = null;
async function step(t, name, fn, timeout = 240_000) {
  await t.test(name, { timeout }, async (st) => {
    if (broken) {
      st.skip(`an earlier step failed: ${broken}`);
      return;
    }
    try {
      await fn(st);
    } catch (e) {
      broken = name;
      const pages = [creatorPage, viewerPage, walletPage].filter(Boolean);
      for (const p of pages) await shot(p, `failed-${p.label}-${name.replace(/\W+/g, '-')}`);
      const logs = pages.map((p) => `--- ${p.label} console ---\n${p.logs.slice(-40).join('\n')}`).join('\n');
      e.message += `\n${logs}\n${tail(sidecar.proc)}`;
      throw e;
    }
  });
}

before(async () => {
  // Screenshots of an earlier run would mislead.
  for (const f of readdirSync(ensureArtifacts())) if (f.endsWith('.png')) rmSync(join(ARTIFACTS_DIR, f));
  build();
  node = await startNode();
  sidecar = await startSidecar(node.wsUrl);
  // The sidecar serves web/dist and /config.json: the pages need no overrides.
  assert.ok(await sidecarServesPages(sidecar.origin), 'the sidecar serves the built pages');
  base = sidecar.origin;
  query = {};
  provider = new WsProvider(node.wsUrl);
  api = await ApiPromise.create({ provider, noInitWarn: true });
  onStop(() => api.disconnect());
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  onStop(() => browser.close());
  creatorPage = await newPage('creator');
  viewerPage = await newPage('viewer');
}, { timeout: 240_000 });

after(async () => {
  if (creatorPage) await shot(creatorPage, 'zz-final-creator');
  if (viewerPage) await shot(viewerPage, 'zz-final-viewer');
  if (walletPage) await shot(walletPage, 'zz-final-wallet-viewer');
  await stopAll();
});

test('creator and viewer pages: stream, pay per second, chat, leave with exact settlement', { timeout: 900_000 }, async (t) => {
  const feeBps = (await api.query.payouts.platformFeeBps()).toNumber();
  const escrowAccount = palletAccount(api.consts.ticks.palletId);
  let streamId;
  let sessionId;
  const before = {};

  await step(t, 'creator adds categories (dev-only sudo) and registers a stream with a split', async () => {
    const page = creatorPage;
    await page.goto(url('/creator.html'));
    await page.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
    await page.getByLabel('Account', { exact: true }).selectOption('//Alice');
    await page.waitForSelector('#account-balance[data-plancks]');
    assert.match(await page.locator('.dev-warning').textContent(), /Development only/);
    for (const [id, name] of [[1, 'Gaming'], [2, 'Music']]) {
      await page.locator('#dev-category').evaluate((d) => { d.open = true; });
      await page.getByLabel('Category id').fill(String(id));
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByRole('button', { name: 'Add category' }).click();
      await page.waitForSelector(`#category-status[data-state="ok"]:has-text("${name}")`, { timeout: TX_TIMEOUT });
    }
    await page.getByLabel('Title').fill('E2E live: fake camera');
    await page.getByLabel('Description or metadata URL (optional)').fill('Chromium fake device, for the browser test');
    await page.getByLabel('Category', { exact: true }).selectOption({ label: 'Gaming' });
    await page.getByLabel('Tags (comma-separated, up to 8)').fill('e2e, webrtc');
    await page.getByLabel('Price per second').fill('0.001');
    await page.getByRole('button', { name: 'Add collaborator' }).click();
    await page.getByLabel('Collaborator account').fill(charlie.address);
    await page.getByLabel('Share (%)').fill('10');
    await page.getByRole('button', { name: 'Register stream' }).click();
    await page.waitForSelector('#register-status[data-state="ok"]', { timeout: 2 * TX_TIMEOUT });
    streamId = Number(await page.locator('#register-status').getAttribute('data-stream-id'));

    const s = (await api.query.streams.streams(streamId)).unwrap();
    assert.equal(s.creator.toString(), alice.address);
    assert.equal(s.title.toUtf8(), 'E2E live: fake camera');
    assert.equal(s.category.toNumber(), 1);
    assert.equal(s.pricePerSecond.toBigInt(), PRICE);
    assert.equal(s.status.type, 'Scheduled');
    assert.deepEqual(s.collaborators.map(([a, p]) => [a.toString(), p.toNumber()]), [[charlie.address, SPLIT_PPM]]);
    assert.deepEqual(s.tags.map((x) => x.toUtf8()), ['e2e', 'webrtc']);
    assert.ok(s.endpoint.isSome, 'the sidecar endpoint is registered with the stream');
  });

  await step(t, 'creator picks camera and microphone, previews, and goes live', async () => {
    const page = creatorPage;
    await page.waitForSelector('#studio:not([hidden])');
    // The studio lists the devices once enumerateDevices resolves.
    await waitFor('enumerateDevices to list a camera', async () => (await page.locator('#camera option').count()) >= 1);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.waitForSelector('#preview-video[data-previewing="true"]', { timeout: 20_000 });
    await waitFor('the preview to play', () => page.locator('#preview-video').evaluate((v) => v.videoWidth > 0 && !v.paused));
    // Device labels are known once permission is given.
    assert.ok((await page.locator('#camera option').first().textContent()).length > 0);
    await page.getByRole('button', { name: 'Go live' }).click();
    await page.waitForSelector('#studio-status[data-live="true"]', { timeout: TX_TIMEOUT + 20_000 });
    assert.equal((await api.query.streams.streams(streamId)).unwrap().status.type, 'Live');
    // The browser offered its camera to the SFU; the answer (or `unknown_type`) arrives at once.
    await waitFor('the publisher media negotiation to finish', async () => {
      const state = await page.locator('#publish-media-status').getAttribute('data-state');
      return ['connected', 'unsupported', 'unavailable', 'failed'].includes(state) ? state : null;
    }, { timeoutMs: 30_000 });
    const state = await page.locator('#publish-media-status').getAttribute('data-state');
    assert.equal(state, 'connected', `publisher media state: ${await page.locator('#publish-media-status').textContent()}`);
    await shot(page, '01-creator-live');
  });

  await step(t, 'home lists the live stream; search and category filter work', async () => {
    const page = viewerPage;
    await page.goto(url('/'));
    await page.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
    const card = page.locator(`li.stream-card[data-stream-id="${streamId}"]`);
    await card.waitFor({ timeout: 30_000 });
    assert.match(await card.locator('h2').textContent(), /E2E live: fake camera/);
    assert.match(await card.textContent(), /Gaming/);
    assert.equal(await card.locator('.price').getAttribute('data-plancks'), PRICE.toString());
    assert.match(await card.locator('.price').textContent(), /0\.001 VLK \/ s/);
    assert.equal((await card.locator('.viewers').textContent()).trim(), '0');

    await page.getByLabel('Search titles and tags').fill('fake CAMERA');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForSelector('body[data-results="1"]');
    await page.getByLabel('Search titles and tags').fill('webrtc'); // a tag
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForSelector(`body[data-results="1"] li[data-stream-id="${streamId}"]`);
    await page.getByLabel('Search titles and tags').fill('no-such-stream-xyz');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForSelector('body[data-results="0"]');
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('Category').selectOption({ label: 'Music' });
    await page.waitForSelector('body[data-results="0"]');
    await page.getByLabel('Category').selectOption({ label: 'Gaming' });
    await page.waitForSelector(`body[data-results="1"] li[data-stream-id="${streamId}"]`);
    await shot(page, '02-home');
    await card.getByRole('link', { name: 'E2E live: fake camera', exact: true }).click();
    await page.waitForURL(/\/stream\.html\?/);
    await page.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
  });

  await step(t, 'viewer opens a session (escrow) and the per-second counter rises', async () => {
    const page = viewerPage;
    assert.equal(await page.locator('#stream-title').textContent(), 'E2E live: fake camera');
    await page.getByLabel('Account', { exact: true }).selectOption('//Bob');
    await page.waitForSelector('#account-balance[data-plancks]');
    await page.getByLabel('Seconds to pay into escrow').fill(String(ESCROW_SECONDS));
    await waitFor('the quote', async () => (await dataInt(page, '#escrow-quote', 'plancks')) === PRICE * ESCROW_SECONDS);

    before.escrow = await free(escrowAccount);
    before.alice = await lifetime(alice.address);
    before.charlie = await lifetime(charlie.address);
    await page.getByRole('button', { name: 'Start watching' }).click();
    await page.waitForSelector('body[data-session="open"]', { timeout: TX_TIMEOUT + 30_000 });
    sessionId = Number(await page.locator('#watch-status').getAttribute('data-session-id'));
    const session = await provider.send('vilokanam_session', [sessionId, null]);
    assert.equal(session.viewer, bob.address);
    assert.equal(session.streamId, streamId);
    assert.equal(session.maxSeconds, Number(ESCROW_SECONDS));
    assert.equal(BigInt(session.escrowRemaining), PRICE * ESCROW_SECONDS);
    assert.equal(await free(escrowAccount) - before.escrow, PRICE * ESCROW_SECONDS);

    // The counter is an aria-live region and rises once per second with the acknowledged vouchers.
    assert.equal(await page.locator('#counter-live').getAttribute('aria-live'), 'polite');
    const seen = [];
    await waitFor('the counter to reach 5 s', async () => {
      const s = Number(await dataInt(page, '#seconds-watched', 'seconds'));
      if (seen.at(-1) !== s) seen.push(s);
      return s >= 5;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    assert.ok(seen.length >= 3, `the counter moved step by step: ${seen.join(', ')}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], 'the counter never goes back');
    const secs = await dataInt(page, '#seconds-watched', 'seconds');
    const paid = await dataInt(page, '#amount-paid', 'plancks');
    // paid = acknowledged seconds × price (read together; they may step between the two reads)
    assert.ok(paid === secs * PRICE || paid === (secs + 1n) * PRICE, `paid ${paid} for ${secs} s`);
    await shot(page, '03-viewer-watching');
  });

  await step(t, 'MEDIA: the viewer receives the creator\'s video over WebRTC (SFU)', async () => {
    const page = viewerPage;
    const state = await waitFor('the viewer media negotiation to finish', async () => {
      const s = await page.locator('#media-status').getAttribute('data-state');
      return ['connected', 'unsupported', 'unavailable', 'failed', 'closed'].includes(s) ? s : null;
    }, { timeoutMs: 30_000 });
    assert.equal(state, 'connected', `viewer media state: ${await page.locator('#media-status').textContent()}`);
    try {
      await waitFor('inbound video frames to be decoded', async () => {
        const stats = await page.evaluate(() => window.vilokanam.media?.inboundVideo());
        return stats && stats.framesDecoded > 0;
      }, { timeoutMs: 30_000 });
    } catch (e) {
      e.message += `\n${await mediaDiagnostics()}`;
      throw e;
    }
    await waitFor('the video element to have a size', () => page.locator('#player').evaluate((v) => v.videoWidth > 0));
    // The fake camera draws a moving pattern: the frame is not uniform.
    const distinct = await page.locator('#player').evaluate((v) => {
      const c = document.createElement('canvas');
      c.width = 64;
      c.height = 36;
      const g = c.getContext('2d');
      g.drawImage(v, 0, 0, c.width, c.height);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const colors = new Set();
      for (let i = 0; i < d.length; i += 4) colors.add(`${d[i] >> 4},${d[i + 1] >> 4},${d[i + 2] >> 4}`);
      return colors.size;
    });
    assert.ok(distinct > 4, `the decoded frame has an image (${distinct} distinct colours)`);
    const outbound = await creatorPage.evaluate(() => window.vilokanam.media?.outboundVideo());
    assert.ok(outbound && outbound.framesEncoded > 0, 'the creator encodes and sends frames');
    // A single-layer room: the SFU writes, encrypts and reports this viewer's media itself (its
    // direct sender, not str0m's send queue). Chrome decrypts its sender reports (RTCP) too:
    // they show up as remote-outbound-rtp, which Chrome uses to synchronise audio and video.
    const media = await fetch(`${sidecar.origin}/media/stats`).then((r) => r.json());
    const viewers = media.rooms.flatMap((r) => r.viewers);
    assert.ok(viewers.length > 0 && viewers.every((v) => v.direct), `viewers on the direct path: ${JSON.stringify(viewers)}`);
    await waitFor('Chrome to take the SFU\'s sender reports for audio and video', () => page.evaluate(async () => {
      const kinds = new Set();
      (await window.vilokanam.media.pc.getStats()).forEach((s) => {
        if (s.type === 'remote-outbound-rtp' && s.reportsSent > 0) kinds.add(s.kind);
      });
      return kinds.has('audio') && kinds.has('video');
    }), { timeoutMs: 10_000 });
    await shot(page, '04-viewer-video');
  });

  await step(t, 'chat goes both ways and the creator deletes a message', async () => {
    const viewer = viewerPage;
    const creator = creatorPage;
    await viewer.getByRole('textbox', { name: 'Chat message' }).fill('Hello from Bob');
    await viewer.getByRole('button', { name: 'Send', exact: true }).click();
    await creator.locator('#chat-log li', { hasText: 'Hello from Bob' }).waitFor({ timeout: 15_000 });
    await creator.getByRole('textbox', { name: 'Chat message' }).fill('Welcome, Bob!');
    await creator.getByRole('button', { name: 'Send', exact: true }).click();
    await viewer.locator('#chat-log li.by-creator', { hasText: 'Welcome, Bob!' }).waitFor({ timeout: 15_000 });
    assert.equal(await viewer.locator('#chat-log').getAttribute('role'), 'log');

    await viewer.getByRole('textbox', { name: 'Chat message' }).fill('buy cheap followers!!!');
    await viewer.getByRole('button', { name: 'Send', exact: true }).click();
    const spam = creator.locator('#chat-log li', { hasText: 'buy cheap followers' });
    await spam.waitFor({ timeout: 15_000 });
    await viewer.locator('#chat-log li', { hasText: 'buy cheap followers' }).waitFor({ timeout: 15_000 });
    await shot(creator, '05-creator-chat');
    await spam.getByRole('button', { name: /^Delete message/ }).click();
    await spam.waitFor({ state: 'detached', timeout: 15_000 });
    await viewer.locator('#chat-log li', { hasText: 'buy cheap followers' }).waitFor({ state: 'detached', timeout: 15_000 });
    // The other messages stay.
    assert.equal(await viewer.locator('#chat-log li', { hasText: 'Hello from Bob' }).count(), 1);
    assert.equal(await creator.locator('#chat-log li', { hasText: 'Welcome, Bob!' }).count(), 1);
  });

  await step(t, 'viewer follows the creator and tips', async () => {
    const page = viewerPage;
    await page.getByRole('button', { name: 'Follow' }).click();
    await page.waitForSelector('#follow[aria-pressed="true"]', { timeout: TX_TIMEOUT });
    assert.ok((await api.query.streams.followers(alice.address, bob.address)).isSome);
    await page.getByLabel('Tip amount').fill('0.5');
    await page.getByLabel('Tip message (optional)').fill('great stream');
    await page.getByRole('button', { name: 'Send tip' }).click();
    await page.waitForSelector('#support-status[data-tip-plancks]', { timeout: TX_TIMEOUT });
    assert.equal(await dataInt(page, '#support-status', 'tip-plancks'), TIP);
  });

  await step(t, 'viewer reloads the page and resumes the open session', async () => {
    const page = viewerPage;
    const watched = await dataInt(page, '#seconds-watched', 'seconds');
    await page.reload();
    await page.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
    // The chosen account and its open session are remembered by the page.
    await page.getByRole('button', { name: `Resume session #${sessionId}` }).click();
    await page.waitForSelector('body[data-session="open"]', { timeout: 30_000 });
    await waitFor('the counter to continue after the reload',
      async () => (await dataInt(page, '#seconds-watched', 'seconds')) >= watched + 3n, { timeoutMs: 30_000 });
    // The chat history comes back without the deleted message.
    await page.locator('#chat-log li', { hasText: 'Welcome, Bob!' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('#chat-log li', { hasText: 'buy cheap followers' }).count(), 0);
  });

  await step(t, 'creator sees live stats; the relay settles vouchers on chain', async () => {
    await creatorPage.waitForSelector('#stat-viewers[data-value="1"]', { timeout: 15_000 });
    await waitFor('creator stats: seconds watched', async () => (await dataInt(creatorPage, '#stat-seconds', 'value')) >= 5n);
    const owed = await dataInt(creatorPage, '#stat-owed', 'plancks');
    assert.ok(owed > 0n && owed % PRICE === 0n, `owed ${owed} is seconds × price`);
    // settle_batch every 2 blocks: the viewer page shows the chain's settled seconds.
    await waitFor('seconds settled on chain by the relay', async () => (await dataInt(viewerPage, '#amount-settled', 'seconds')) > 0n,
      { timeoutMs: 10 * BLOCK_MS });
    const settledSecs = await dataInt(viewerPage, '#amount-settled', 'seconds');
    assert.equal(await dataInt(viewerPage, '#amount-settled', 'plancks'), settledSecs * PRICE);
    await shot(creatorPage, '06-creator-stats');
  });

  await step(t, 'viewer leaves: close_session with the final voucher; exact settlement and refund on chain', async () => {
    const page = viewerPage;
    const ackedBefore = await dataInt(page, '#seconds-watched', 'seconds');
    await page.getByRole('button', { name: 'Leave and settle' }).click();
    await page.waitForSelector('#leave-summary:not([hidden])', { timeout: TX_TIMEOUT + 10_000 });
    await shot(page, '07-viewer-left');
    const seconds = await dataInt(page, '#summary-seconds', 'seconds');
    const paid = await dataInt(page, '#summary-paid', 'plancks');
    const escrow = await dataInt(page, '#summary-escrow', 'plancks');
    const refund = await dataInt(page, '#summary-refund', 'plancks');
    const blockHash = await page.locator('#summary-block').getAttribute('data-block');
    assert.ok(seconds >= ackedBefore, `settled ${seconds} s ≥ ${ackedBefore} s acknowledged before leaving`);
    assert.equal(paid, seconds * PRICE);
    assert.equal(escrow, ESCROW_SECONDS * PRICE);
    assert.equal(refund, escrow - paid, 'refund = escrow − paid');

    // The chain: the block that closed the session.
    const events = (await (await api.at(blockHash)).query.system.events()).map((r) => r.event);
    const closed = events.find((e) => api.events.ticks.SessionClosed.is(e));
    assert.ok(closed, 'SessionClosed in the block the page reports');
    assert.equal(closed.data.sessionId.toNumber(), sessionId);
    assert.equal(closed.data.settledSeconds.toBigInt(), seconds);
    assert.equal(closed.data.refunded.toBigInt(), refund);
    assert.equal(closed.data.reason.type, 'Closed');
    const refundTransfer = events.find((e) => api.events.balances.Transfer.is(e)
      && e.data.from.toString() === escrowAccount && e.data.to.toString() === bob.address);
    assert.ok(refundTransfer, 'the refund is transferred from escrow to the viewer');
    assert.equal(refundTransfer.data.amount.toBigInt(), refund);
    // The final voucher (wrapped encoding, signed in the browser) was settled or already relayed.
    const final = events.find((e) => api.events.ticks.SessionSettled.is(e) || api.events.ticks.VoucherRejected.is(e));
    if (final && api.events.ticks.VoucherRejected.is(final)) {
      assert.equal(final.data.reason.type, 'NotIncreasing', 'a rejected final voucher was only already settled');
    }

    assert.ok((await api.query.ticks.sessions(sessionId)).isNone, 'the session is closed');
    assert.equal(await free(escrowAccount), before.escrow, 'the escrow account holds nothing more for this session');
    const stream = (await api.query.streams.streams(streamId)).unwrap();
    assert.equal(stream.currentViewers.toNumber(), 0);
    assert.equal(stream.totalViewerSeconds.toBigInt(), seconds);
    assert.equal(stream.totalEarned.toBigInt(), paid);

    // Every payment is split by pallet-payouts: fee, 10 % of the rest to //Charlie, the rest to
    // the creator. The price (10^9) makes each settlement's split exact, so batching does not
    // matter and the totals are exact.
    const seconds_ = split(paid, feeBps, [SPLIT_PPM]);
    const tip = split(TIP, feeBps, [SPLIT_PPM]);
    assert.equal(await lifetime(alice.address) - before.alice, seconds_.creator + tip.creator, 'creator credited exactly');
    assert.equal(await lifetime(charlie.address) - before.charlie, seconds_.parts[0] + tip.parts[0], 'collaborator credited exactly');
    assert.equal((await api.query.payouts.streamEarnings(streamId)).toBigInt(), paid + TIP);
  });

  await step(t, 'creator bans the viewer on chain from the chat; the viewer cannot open a session', async () => {
    const creator = creatorPage;
    const msg = creator.locator(`#chat-log li[data-from="${bob.address}"]`).first();
    await msg.getByRole('button', { name: /^Ban / }).click();
    await creator.waitForSelector(`#chat-status[data-banned="${bob.address}"]`, { timeout: TX_TIMEOUT });
    assert.ok((await api.query.streams.banned(alice.address, bob.address)).isSome);
    const viewer = viewerPage;
    await viewer.getByRole('button', { name: 'Start watching' }).click();
    await viewer.waitForSelector('#watch-status[data-state="error"]', { timeout: TX_TIMEOUT });
    assert.match(await viewer.locator('#watch-status').textContent(), /Banned/);
  });

  await step(t, 'a browser-wallet account (injected extension) watches with 5 s vouchers and leaves', async () => {
    const page = await newWalletPage('wallet-viewer', dave);
    walletPage = page;
    await page.goto(url('/stream.html', { id: streamId }));
    await page.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
    await page.getByRole('button', { name: 'Connect browser wallet' }).click();
    await page.waitForSelector('#account-note[data-state="ok"]');
    await page.getByLabel('Account', { exact: true }).selectOption(`ext:test-wallet:${dave.address}`);
    await page.waitForSelector('#account-balance[data-plancks]');
    // Wallets ask the person to approve every signature: the page offers fewer vouchers.
    await page.getByLabel('Sign a voucher every').selectOption('5');
    await page.getByLabel('Seconds to pay into escrow').fill('60');
    await page.getByRole('button', { name: 'Start watching' }).click();
    await page.waitForSelector('body[data-session="open"]', { timeout: TX_TIMEOUT + 30_000 });
    const id = Number(await page.locator('#watch-status').getAttribute('data-session-id'));
    const signsAtStart = page.signRawCalls; // the sidecar authentication
    await waitFor('two 5 s vouchers', async () => (await dataInt(page, '#seconds-watched', 'seconds')) >= 10n, { timeoutMs: 30_000 });
    const watched = await dataInt(page, '#seconds-watched', 'seconds');
    assert.equal(watched % 5n, 0n, `vouchers every 5 s (${watched} s)`);
    assert.ok(page.signRawCalls - signsAtStart <= Number(watched / 5n) + 1, `one signature per 5 s (${page.signRawCalls - signsAtStart})`);
    await page.getByRole('button', { name: 'Leave and settle' }).click();
    await page.waitForSelector('#leave-summary:not([hidden])', { timeout: TX_TIMEOUT + 10_000 });
    const seconds = await dataInt(page, '#summary-seconds', 'seconds');
    const refund = await dataInt(page, '#summary-refund', 'plancks');
    assert.ok(seconds >= watched);
    assert.equal(refund, 60n * PRICE - seconds * PRICE);
    const blockHash = await page.locator('#summary-block').getAttribute('data-block');
    const events = (await (await api.at(blockHash)).query.system.events()).map((r) => r.event);
    const closed = events.find((e) => api.events.ticks.SessionClosed.is(e));
    assert.equal(closed.data.sessionId.toNumber(), id);
    assert.equal(closed.data.settledSeconds.toBigInt(), seconds);
    assert.equal(closed.data.refunded.toBigInt(), refund);
    await shot(page, '09-wallet-viewer-left');
  });

  await step(t, 'creator ends the stream; it leaves the home page', async () => {
    const creator = creatorPage;
    await creator.getByRole('button', { name: 'End stream' }).click();
    await creator.waitForSelector('#studio-stream-status[data-status="Ended"]', { timeout: TX_TIMEOUT });
    assert.equal((await api.query.streams.streams(streamId)).unwrap().status.type, 'Ended');
    await shot(creator, '08-creator-ended');
    const viewer = viewerPage;
    await viewer.goto(url('/'));
    await viewer.waitForSelector('body[data-results="0"]', { timeout: 30_000 });
  });
});
