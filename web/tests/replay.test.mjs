// Replays: the creator page records 20 s from Chromium's fake camera (the sidecar runs with
// --record-dir), ends the stream and offers its replay at half the live price. A viewer opens a
// replay session, seeks to 10 s in the recording and watches 6 s; what settles on chain is
// exactly the seconds the page signed for frames it showed (counted independently by the test),
// at the replay price, and the creator is credited that less the platform fee. Then the
// creator deletes the recordings: the ticket gets nothing more.
//
//   NODE_BIN=… SIDECAR_BIN=… node --test web/tests/replay.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { sleep, stopAll, waitFor } from './harness.mjs';
import {
  BLOCK_MS, PRICE, TX_TIMEOUT, countDecodedSeconds, creatorGoesLive, dataInt, lifetime, newPage, pageUrl, shot, split,
  startStack, stepper,
} from './helpers.mjs';

const REPLAY_PRICE = PRICE / 2n; // '0.0005' VLK per second
const ESCROW_SECONDS = 60n;

let sidecar;
let api;
let browser;
let base;
let creatorPage;
let viewerPage;
const step = stepper({ pages: () => [creatorPage, viewerPage], sidecar: () => sidecar });

before(async () => {
  const recordings = mkdtempSync(join(tmpdir(), 'vk-replays-'));
  ({ sidecar, api, browser, base } = await startStack({ sidecarArgs: ['--record-dir', recordings] }));
  creatorPage = await newPage(browser, 'creator');
  viewerPage = await newPage(browser, 'viewer');
  await countDecodedSeconds(viewerPage);
}, { timeout: 240_000 });

after(async () => {
  if (viewerPage) await shot(viewerPage, 'zz-final-viewer');
  await stopAll();
});

test('a recorded stream is replayed from the middle and paid exactly per second watched', { timeout: 600_000 }, async (t) => {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519' });
  const alice = keyring.addFromUri('//Alice');
  const feeBps = (await api.query.payouts.platformFeeBps()).toNumber();
  let streamId;
  let sessionId;
  let ticket;
  let aliceBefore;

  await step(t, 'the creator streams 20 s from the camera, ends the stream and offers its replay', async () => {
    streamId = await creatorGoesLive(creatorPage, base, { title: 'Replayed live', categoryId: 31, categoryName: 'Replays' });
    await sleep(20_000);
    await creatorPage.getByRole('button', { name: 'End stream' }).click();
    await creatorPage.waitForSelector('#studio-stream-status[data-status="Ended"]', { timeout: TX_TIMEOUT });
    const row = creatorPage.locator(`#my-streams li[data-stream-id="${streamId}"]`);
    await row.locator('.replay-price').fill('0.0005');
    await row.getByRole('button', { name: /^Offer the replay/ }).click();
    await creatorPage.waitForSelector(`#my-streams li[data-stream-id="${streamId}"] .replay-status:has-text("Replay offered")`, { timeout: TX_TIMEOUT });
    assert.equal((await api.query.streams.replayOffers(streamId)).unwrap().toBigInt(), REPLAY_PRICE);
    await shot(creatorPage, '01-replay-offered');
  });

  await step(t, 'a viewer opens a replay session at the replay price and plays the recording', async () => {
    const page = viewerPage;
    // Before any of the session's seconds settle (the relay settles while the viewer watches).
    aliceBefore = await lifetime(api, alice.address);
    await page.goto(pageUrl(base, '/stream.html', { id: streamId }));
    await page.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
    assert.match(await page.locator('#watch-status').textContent(), /replay is offered/);
    await page.getByLabel('Account', { exact: true }).selectOption('//Bob');
    await page.waitForSelector('#account-balance[data-plancks]');
    await page.getByLabel('Seconds to pay into escrow').fill(String(ESCROW_SECONDS));
    await page.getByRole('button', { name: 'Watch the replay' }).click();
    await page.waitForSelector('body[data-session="open"]', { timeout: 2 * TX_TIMEOUT + 30_000 });
    sessionId = Number(await page.locator('#watch-status').getAttribute('data-session-id'));
    const session = (await api.query.ticks.sessions(sessionId)).unwrap();
    assert.equal(session.pricePerSecond.toBigInt(), REPLAY_PRICE, 'the session pays the replay price');
    ticket = await page.evaluate(() => window.vilokanam.replayTicket);
    assert.ok(ticket?.url.startsWith(`/replay/${streamId}.webm?ticket=`), JSON.stringify(ticket));
    assert.ok(ticket.duration_ms >= 15_000 && ticket.duration_ms <= 25_000, `recorded ${ticket.duration_ms} ms`);
  });

  await step(t, 'the viewer seeks to 10 s and watches 6 s: media and vouchers from there', async () => {
    const page = viewerPage;
    await page.waitForFunction(() => document.getElementById('player').readyState >= 1, null, { timeout: 30_000 });
    // The viewer seeks to 10 s and presses play (the page's own play() may come too long after
    // the click for the browser's autoplay rules).
    await page.evaluate(() => { document.getElementById('player').currentTime = 10; });
    await page.evaluate(() => document.getElementById('player').play());
    const state = () => page.evaluate(() => {
      const v = document.getElementById('player');
      const b = v.buffered;
      return { t: v.currentTime, paused: v.paused, ready: v.readyState, buffered: [...Array(b.length).keys()].map((i) => [b.start(i), b.end(i)]) };
    });
    await waitFor('6 s played from 10 s', async () => (await state()).t >= 16, { timeoutMs: 60_000 })
      .catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await state())}`); });
    await page.evaluate(() => document.getElementById('player').pause());
    const video = await page.evaluate(() => {
      const v = document.getElementById('player');
      const q = v.getVideoPlaybackQuality();
      return { width: v.videoWidth, frames: q.totalVideoFrames, hasAudio: v.mozHasAudio ?? v.webkitAudioDecodedByteCount > 0 };
    });
    assert.ok(video.width > 0 && video.frames > 60, `frames decoded: ${JSON.stringify(video)}`);
    assert.ok(video.hasAudio, 'the recording carries the microphone\'s audio');
    await shot(page, '02-replay-watched');
  });

  await step(t, 'leaving settles exactly the seconds shown, at the replay price; the creator is credited', async () => {
    const page = viewerPage;
    const decoded = BigInt(await page.evaluate((id) => JSON.parse(localStorage.getItem(`__decoded.${id}`) ?? '[]').length, sessionId));
    await page.getByRole('button', { name: 'Leave and settle' }).click();
    await page.waitForSelector('#leave-summary:not([hidden])', { timeout: TX_TIMEOUT + 10 * BLOCK_MS });
    const seconds = await dataInt(page, '#summary-seconds', 'seconds');
    const paid = await dataInt(page, '#summary-paid', 'plancks');
    const signed = BigInt(await page.evaluate(() => window.vilokanam.signed));
    assert.equal(seconds, signed, 'the page\'s final count settled');
    // About 6 s were watched from the middle; the page signs a started second as a whole one.
    assert.ok(seconds >= 5n && seconds <= 9n, `settled ${seconds} s for about 6 s watched`);
    // Never more than the wall-clock seconds in which frames were shown (counted independently);
    // fewer by the gaps the page does not count (over a second without a frame: the paced body
    // catching up with the vouchers, the seek), as in the live tests.
    assert.ok(seconds <= decoded && seconds + 3n >= decoded, `settled ${seconds} s, frames shown in ${decoded} s`);
    assert.equal(paid, seconds * REPLAY_PRICE, 'paid at the replay price');
    assert.ok((await api.query.ticks.sessions(sessionId)).isNone, 'the session is closed');
    // Every settled second is paid to the creator, less the fee (the last batch may still be
    // on its way); never more.
    const expected = split(paid, feeBps).creator;
    const credited = await waitFor('the creator\'s whole credit', async () => {
      const d = (await lifetime(api, alice.address)) - aliceBefore;
      assert.ok(d <= expected, `credited ${d}, more than ${expected}`);
      return d === expected ? d : null;
    }, { timeoutMs: 2 * TX_TIMEOUT });
    assert.equal(credited, expected, 'the creator is credited the payment less the fee');
  });

  await step(t, 'the closed session\'s ticket gets nothing; the creator deletes the recordings', async () => {
    const res = await fetch(`${base}${ticket.url}`, { headers: { Range: 'bytes=0-' } });
    assert.equal(res.status, 404, 'a closed session cannot replay');
    const row = creatorPage.locator(`#my-streams li[data-stream-id="${streamId}"]`);
    await row.getByRole('button', { name: /^Delete the recordings/ }).click();
    await creatorPage.waitForSelector(`#my-streams li[data-stream-id="${streamId}"] .replay-status:has-text("1 recording(s) deleted")`, { timeout: 30_000 });
  });
});
