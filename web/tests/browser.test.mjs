// Browser end-to-end test of the viewer and creator pages against a real dev chain and the real
// sidecar, in headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core.
//
//   NODE_BIN=… SIDECAR_BIN=… node --test --test-concurrency=1 web/tests/
//
// The creator (//Alice, in one browser context) registers a stream with a 10 % split to
// //Charlie, naming the sidecar's relayer (//Ferdie, from /config.json), and goes live publishing
// the fake camera; a viewer (//Bob, another context) finds it on the home page, approves a daily
// budget for the page's key (the one signature of the account) and watches with no further
// signature of the account: the page opens the session with a delegate call and signs a voucher
// for each second it shows. The counter rises, the chat goes both ways while the creator deletes
// a message, the viewer follows, tips, reloads and resumes, and leaves: the page hands a close
// intent to the sidecar, whose relayer settles and closes the session at once. Then the chain
// must show the exact settlement: the creator and the collaborator credited exactly seconds ×
// price (and the tip) split per the pallets' rules, the viewer refunded escrow − paid. Finally the
// creator bans the viewer (on chain) and ends the stream. (A wallet extension's account: see
// wallet.test.mjs; a lying sidecar: adversarial.test.mjs.)
//
// MEDIA: the creator's fake camera reaches the viewer through the sidecar's SFU: frames are
// decoded (getStats) and the picture is not uniform (a canvas check).
//
// Screenshots and process logs: web/test-artifacts/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Keyring } from '@polkadot/keyring';
import { stopAll, waitFor } from './harness.mjs';
import {
  BLOCK_MS, PRICE, TX_TIMEOUT, dataInt, extrinsicAt, lifetime, newPage, pageUrl, palletAccount, shot, split,
  startStack, stepper,
} from './helpers.mjs';

const ESCROW_SECONDS = 120n;
const TIP = 500_000_000_000n; // 0.5 VLK
const SPLIT_PPM = 100_000; // 10 % to the collaborator
const BUDGET = 1_000_000_000_000n; // the page's default daily budget: 1 VLK
const DAY_MS = 86_400_000;

let sidecar;
let base; // origin serving the pages
let api;
let provider;
let browser;
let creatorPage;
let viewerPage;
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const alice = keyring.addFromUri('//Alice');
const bob = keyring.addFromUri('//Bob');
const charlie = keyring.addFromUri('//Charlie');
const ferdie = keyring.addFromUri('//Ferdie');

const url = (path, params) => pageUrl(base, path, params);
const step = stepper({ pages: () => [creatorPage, viewerPage], sidecar: () => sidecar });

async function free(address) {
  return (await api.query.system.account(address)).data.free.toBigInt();
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

before(async () => {
  ({ sidecar, api, provider, browser, base } = await startStack());
  creatorPage = await newPage(browser, 'creator');
  viewerPage = await newPage(browser, 'viewer');
}, { timeout: 240_000 });

after(async () => {
  if (creatorPage) await shot(creatorPage, 'zz-final-creator');
  if (viewerPage) await shot(viewerPage, 'zz-final-viewer');
  await stopAll();
});

test('creator and viewer pages: stream, pay per second, chat, leave with exact settlement', { timeout: 900_000 }, async (t) => {
  const feeBps = (await api.query.payouts.platformFeeBps()).toNumber();
  const escrowAccount = palletAccount(api.consts.ticks.palletId);
  const pageKeyOf = (page) => page.evaluate(() => window.vilokanam.pageKey);
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
    assert.equal(s.relayer.unwrap().toString(), ferdie.address, 'the sidecar\'s relayer (/config.json) is the stream\'s');
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

  await step(t, 'viewer approves a daily budget once, opens a session through it, and the counter rises', async () => {
    const page = viewerPage;
    assert.equal(await page.locator('#stream-title').textContent(), 'E2E live: fake camera');
    await page.getByLabel('Account', { exact: true }).selectOption('//Bob');
    await page.waitForSelector('#account-balance[data-plancks]');
    assert.ok(await page.getByLabel('Pay from a daily budget (one approval a day)').isChecked());
    assert.equal(await page.getByLabel('Daily budget', { exact: true }).inputValue(), '1');
    assert.equal(await page.locator('#budget-status').getAttribute('data-allowance-id'), '', 'no budget yet');
    await page.getByLabel('Seconds to pay into escrow').fill(String(ESCROW_SECONDS));
    await waitFor('the quote', async () => (await dataInt(page, '#escrow-quote', 'plancks')) === PRICE * ESCROW_SECONDS);

    before.escrow = await free(escrowAccount);
    before.alice = await lifetime(api, alice.address);
    before.charlie = await lifetime(api, charlie.address);
    const grantedFrom = Date.now();
    await page.getByRole('button', { name: 'Start watching' }).click();
    await page.waitForSelector('body[data-session="open"]', { timeout: 2 * TX_TIMEOUT + 30_000 });
    sessionId = Number(await page.locator('#watch-status').getAttribute('data-session-id'));
    const pageKey = await pageKeyOf(page);
    assert.ok(pageKey && pageKey !== bob.address, 'the page has a key of its own');

    // The one signature of the account: an allowance of 1 VLK a day, to the page key.
    const allowance = await provider.send('vilokanam_allowance', [bob.address]);
    assert.equal(allowance.delegate, pageKey);
    assert.equal(BigInt(allowance.amount), BUDGET);
    assert.equal(allowance.period, DAY_MS);
    assert.ok(Math.abs(allowance.expiresAt - (grantedFrom + DAY_MS)) < 2 * 60_000, `expires in a day (${allowance.expiresAt})`);
    assert.equal(allowance.nonce, 1, 'one delegate call (the opening) used the allowance');
    assert.ok(BigInt(allowance.used) > PRICE * ESCROW_SECONDS, 'the deposit and the call\'s fee count against it');
    await page.waitForSelector(`#budget-status[data-allowance-id="${allowance.id}"]`);

    const session = await provider.send('vilokanam_session', [sessionId, null]);
    assert.equal(session.viewer, bob.address);
    assert.equal(session.voucherKey, pageKey, 'vouchers are signed by the page key');
    assert.equal(session.allowance, allowance.id, 'opened by the allowance\'s delegate');
    assert.equal(session.streamId, streamId);
    assert.equal(session.maxSeconds, Number(ESCROW_SECONDS));
    assert.equal(BigInt(session.escrowRemaining), PRICE * ESCROW_SECONDS);
    assert.equal(await free(escrowAccount) - before.escrow, PRICE * ESCROW_SECONDS);

    // The counter is an aria-live region and rises once per second with the vouchers the page signs.
    assert.equal(await page.locator('#counter-live').getAttribute('aria-live'), 'polite');
    const seen = [];
    await waitFor('the counter to reach 5 s', async () => {
      const s = Number(await dataInt(page, '#seconds-watched', 'seconds'));
      if (seen.at(-1) !== s) seen.push(s);
      return s >= 5;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    assert.ok(seen.length >= 3, `the counter moved step by step: ${seen.join(', ')}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], 'the counter never goes back');
    // Paid = acknowledged seconds × price, never above what the page signed (read paid first:
    // both only rise).
    await waitFor('a voucher to be acknowledged', async () => (await dataInt(page, '#amount-paid', 'plancks')) > 0n);
    const paid = await dataInt(page, '#amount-paid', 'plancks');
    const secs = await dataInt(page, '#seconds-watched', 'seconds');
    assert.ok(paid % PRICE === 0n && paid <= secs * PRICE, `paid ${paid} for ${secs} s signed`);
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

  await step(t, 'viewer reloads the page and resumes the open session (a reload does not close it)', async () => {
    const page = viewerPage;
    const pageKey = await pageKeyOf(page);
    const watched = await dataInt(page, '#seconds-watched', 'seconds');
    await page.reload();
    await page.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
    // The chosen account, its page key and its open session are remembered by the page; the
    // session goes on from what the page itself signed.
    const resume = page.getByRole('button', { name: `Resume session #${sessionId}` });
    await resume.waitFor({ timeout: 30_000 });
    assert.equal(await pageKeyOf(page), pageKey);
    assert.ok((await dataInt(page, '#seconds-watched', 'seconds')) >= watched, 'the signed count survives the reload');
    assert.equal((await provider.send('vilokanam_session', [sessionId, null])).open, true, 'the reload sent no close intent');
    await resume.click();
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

  await step(t, 'viewer leaves: a close intent, the relayer closes at once; exact settlement and refund on chain', async () => {
    const page = viewerPage;
    const signedBefore = await dataInt(page, '#seconds-watched', 'seconds');
    await page.getByRole('button', { name: 'Leave and settle' }).click();
    await page.waitForSelector('#leave-summary:not([hidden])', { timeout: TX_TIMEOUT + 10 * BLOCK_MS });
    await shot(page, '07-viewer-left');
    const seconds = await dataInt(page, '#summary-seconds', 'seconds');
    const paid = await dataInt(page, '#summary-paid', 'plancks');
    const escrow = await dataInt(page, '#summary-escrow', 'plancks');
    const refund = await dataInt(page, '#summary-refund', 'plancks');
    const blockHash = await page.locator('#summary-block').getAttribute('data-block');
    assert.equal(await page.locator('#leave-summary').getAttribute('data-session-id'), String(sessionId));
    // Settled: exactly the seconds of the page's close intent, its last signed count.
    const finalSigned = BigInt(await page.evaluate(() => window.vilokanam.signed));
    assert.ok(finalSigned >= signedBefore, `signed ${finalSigned} s ≥ ${signedBefore} s before leaving`);
    assert.equal(seconds, finalSigned, 'the close intent settled the page\'s final count');
    assert.equal(paid, seconds * PRICE);
    assert.equal(escrow, ESCROW_SECONDS * PRICE);
    assert.equal(refund, escrow - paid, 'refund = escrow − paid');

    // The chain: the block that closed the session, by the stream's relayer, at once.
    const records = await (await api.at(blockHash)).query.system.events();
    const closedRecord = records.find(({ event }) => api.events.ticks.SessionClosed.is(event));
    assert.ok(closedRecord, 'SessionClosed in the block the page reports');
    const closed = closedRecord.event;
    assert.equal(closed.data.sessionId.toNumber(), sessionId);
    assert.equal(closed.data.settledSeconds.toBigInt(), seconds);
    assert.equal(closed.data.refunded.toBigInt(), refund);
    assert.equal(closed.data.reason.type, 'Closed');
    const ext = await extrinsicAt(api, provider, blockHash, closedRecord.phase.asApplyExtrinsic.toNumber());
    assert.ok(ext.isSigned, 'closed by a signed call');
    assert.equal(ext.signer.toString(), ferdie.address, 'closed by the relayer');
    assert.equal(`${ext.method.section}.${ext.method.method}`, 'ticks.closeSession');
    const events = records.map((r) => r.event);
    const refundTransfer = events.find((e) => api.events.balances.Transfer.is(e)
      && e.data.from.toString() === escrowAccount && e.data.to.toString() === bob.address);
    assert.ok(refundTransfer, 'the refund is transferred from escrow to the viewer');
    assert.equal(refundTransfer.data.amount.toBigInt(), refund);

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
    assert.equal(await lifetime(api, alice.address) - before.alice, seconds_.creator + tip.creator, 'creator credited exactly');
    assert.equal(await lifetime(api, charlie.address) - before.charlie, seconds_.parts[0] + tip.parts[0], 'collaborator credited exactly');
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
