// Code shared by the browser tests (not a test file itself): the stack every test file starts
// (dev node, sidecar serving the pages, polkadot.js, headless Chromium), pages with their console
// kept, a fake wallet extension that counts what it is asked, an independent count of the seconds
// in which the player showed frames, the chain's events block by block, and pallet-payouts' split.

import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { hexToU8a, stringToU8a, u8aConcat, u8aToHex, u8aWrapBytes } from '@polkadot/util';
import { encodeAddress } from '@polkadot/util-crypto';
import { chromium } from 'playwright-core';
import {
  ARTIFACTS_DIR, CHROMIUM, CHROMIUM_ARGS, RUN_NAME, build, ensureArtifacts, onStop, sidecarServesPages, startNode,
  startSidecar, tail, waitFor,
} from './harness.mjs';

export const PRICE = 1_000_000_000n; // 0.001 VLK per second (12 decimals)
export const BLOCK_MS = 6_000;
export const TX_TIMEOUT = 8 * BLOCK_MS; // a transaction is in a block within one or two blocks

/**
 * Builds the pages and starts a fresh dev node, the sidecar in front of it (serving the pages and
 * /config.json, relayer //Ferdie; `sidecarArgs`: more of its flags), polkadot.js and Chromium;
 * all stopped by `stopAll()`.
 */
export async function startStack({ alsoKnownAs = [], sidecarArgs = [] } = {}) {
  // This file's screenshots of an earlier run would mislead.
  for (const f of readdirSync(ensureArtifacts())) {
    if (f.startsWith(`${RUN_NAME}-`) && f.endsWith('.png')) rmSync(join(ARTIFACTS_DIR, f));
  }
  build();
  const node = await startNode();
  const sidecar = await startSidecar(node.wsUrl, { alsoKnownAs, extraArgs: sidecarArgs });
  assert.ok(await sidecarServesPages(sidecar.origin), 'the sidecar serves the built pages');
  const provider = new WsProvider(node.wsUrl);
  const api = await ApiPromise.create({ provider, noInitWarn: true });
  onStop(() => api.disconnect());
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  onStop(() => browser.close());
  return { node, sidecar, provider, api, browser, base: sidecar.origin };
}

/** `path` on `base` with query parameters. */
export function pageUrl(base, path, params = {}) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v));
  return u.toString();
}

/** A screenshot in test-artifacts/<run>-<name>.png. */
export function shot(page, name) {
  return page.screenshot({ path: join(ARTIFACTS_DIR, `${RUN_NAME}-${name}.png`), fullPage: true }).catch(() => {});
}

/** A page in a browser context of its own; its console is kept (`page.logs`), dialogs accepted. */
export async function newPage(browser, name) {
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

/** Integer value of a data attribute once it is set, else null. */
export async function dataInt(page, selector, attr) {
  const v = await page.locator(selector).getAttribute(`data-${attr}`);
  return v === null || v === '' ? null : BigInt(v);
}

/**
 * Steps that run in order within one test; once one fails, the later ones are skipped (they
 * depend on it). A failure adds screenshots, the pages' consoles and the sidecar's log.
 */
export function stepper({ pages, sidecar }) {
  let broken = null;
  return async function step(t, name, fn, timeout = 240_000) {
    await t.test(name, { timeout }, async (st) => {
      if (broken) {
        st.skip(`an earlier step failed: ${broken}`);
        return;
      }
      try {
        await fn(st);
      } catch (e) {
        broken = name;
        const open = pages().filter(Boolean);
        for (const p of open) await shot(p, `failed-${p.label}-${name.replace(/\W+/g, '-')}`);
        const logs = open.map((p) => `--- ${p.label} console ---\n${p.logs.slice(-40).join('\n')}`).join('\n');
        e.message += `\n${logs}\n${tail(sidecar().proc)}`;
        throw e;
      }
    });
  };
}

/** An account of pallet-ticks or pallet-payouts: "modl" ++ PalletId ++ zeros, truncated to 32. */
export function palletAccount(palletId) {
  const raw = u8aConcat(stringToU8a('modl'), palletId.toU8a(), new Uint8Array(32));
  return encodeAddress(raw.subarray(0, 32), 42);
}

/** What pallet-payouts credits for `amount`: fee to the platform, shares, rest to the creator. */
export function split(amount, feeBps, sharesPpm = []) {
  const fee = (amount * BigInt(feeBps)) / 10_000n;
  const rest = amount - fee;
  const parts = sharesPpm.map((ppm) => (rest * BigInt(ppm)) / 1_000_000n);
  return { fee, parts, creator: rest - parts.reduce((a, b) => a + b, 0n) };
}

export async function lifetime(api, address) {
  return (await api.query.payouts.lifetimeEarnings(address)).toBigInt();
}

/**
 * A page with a fake polkadot.js-compatible wallet extension (window.injectedWeb3) whose one
 * account is `pair`. It signs in this test process as a real wallet would — `signRaw` over
 * `<Bytes>`…`</Bytes>`, `signPayload` over the extrinsic payload — and counts every request in
 * `page.walletRequests` (each one is a prompt a person would have to approve).
 */
export async function newWalletPage(browser, api, name, pair) {
  const page = await newPage(browser, name);
  page.walletRequests = [];
  await page.exposeFunction('__fakeWalletSignRaw', (address, data) => {
    assert.equal(address, pair.address);
    page.walletRequests.push({ kind: 'signRaw', data });
    return u8aToHex(pair.sign(u8aWrapBytes(hexToU8a(data))));
  });
  await page.exposeFunction('__fakeWalletSignPayload', (payload) => {
    assert.equal(payload.address, pair.address);
    api.registry.setSignedExtensions(payload.signedExtensions);
    const extrinsic = api.registry.createType('ExtrinsicPayload', payload, { version: payload.version });
    page.walletRequests.push({ kind: 'signPayload', method: api.registry.createType('Call', payload.method).toHuman() });
    return extrinsic.sign(pair).signature;
  });
  await page.addInitScript(({ address }) => {
    const account = { address, name: 'test wallet account', type: 'sr25519' };
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

/**
 * Counts, independently of the page's own meter, the wall-clock seconds in which the player
 * (#player) presented a frame while a session was open: its own requestVideoFrameCallback loop
 * records the distinct `floor(epoch ms / 1000)` per session id in localStorage
 * (`__decoded.<id>`), so the count survives navigating to another page. Read it with
 * `decodedSeconds`.
 */
export async function countDecodedSeconds(page) {
  await page.addInitScript(() => {
    const seen = new Map();
    const record = (now) => {
      const id = window.vilokanam?.session?.id;
      if (id === undefined || id === null || document.body?.dataset.session !== 'open') return;
      const key = `__decoded.${id}`;
      let seconds = seen.get(id);
      if (!seconds) {
        seconds = new Set(JSON.parse(localStorage.getItem(key) ?? '[]'));
        seen.set(id, seconds);
      }
      const second = Math.floor((performance.timeOrigin + now) / 1000);
      if (!seconds.has(second)) {
        seconds.add(second);
        localStorage.setItem(key, JSON.stringify([...seconds]));
      }
    };
    const attach = () => {
      const video = document.getElementById('player');
      if (!video) {
        setTimeout(attach, 50);
        return;
      }
      const loop = (now) => {
        record(now);
        video.requestVideoFrameCallback(loop);
      };
      video.requestVideoFrameCallback(loop);
    };
    attach();
  });
}

/** The seconds with frames counted by `countDecodedSeconds` for session `id` (same origin). */
export function decodedSeconds(page, id) {
  return page.evaluate((i) => JSON.parse(localStorage.getItem(`__decoded.${i}`) ?? '[]').length, id);
}

/**
 * Every event of every block from now on, read block by block as new heads arrive (none is
 * skipped): `{records, find(section, method, pred), stop()}`, each record
 * `{blockNumber, blockHash, phase, event}`.
 */
export async function collectEvents(api) {
  const records = [];
  let next = (await api.rpc.chain.getHeader()).number.toNumber();
  let best = next;
  let scanning = false;
  const scan = async () => {
    if (scanning) return;
    scanning = true;
    try {
      while (next <= best) {
        const blockHash = (await api.rpc.chain.getBlockHash(next)).toHex();
        for (const { phase, event } of await (await api.at(blockHash)).query.system.events()) {
          records.push({ blockNumber: next, blockHash, phase, event });
        }
        next += 1;
      }
    } catch {
      // retried at the next head
    } finally {
      scanning = false;
    }
  };
  const unsub = await api.rpc.chain.subscribeNewHeads((header) => {
    best = Math.max(best, header.number.toNumber());
    scan();
  });
  return {
    records,
    find(section, method, pred = () => true) {
      return records.filter((r) => api.events[section][method].is(r.event) && pred(r.event.data));
    },
    stop: unsub,
  };
}

/** Waits for `ticks.SessionClosed` of `sessionId` among the collected events. */
export function sessionClosed(events, sessionId, timeoutMs = 20 * BLOCK_MS) {
  return waitFor(`SessionClosed of session ${sessionId}`,
    () => events.find('ticks', 'SessionClosed', (d) => d.sessionId.eqn(sessionId))[0], { timeoutMs });
}

/**
 * The extrinsic at `index` of block `blockHash`, decoded (read raw: polkadot.js may not decode
 * every format of a whole block).
 */
export async function extrinsicAt(api, provider, blockHash, index) {
  const { block } = await provider.send('chain_getBlock', [blockHash]);
  return api.createType('Extrinsic', block.extrinsics[index]);
}

/**
 * The creator (//Alice, the dev account the page offers) registers a stream at `price` (text,
 * VLK per second) in category `categoryName` — adding it first when `categoryId` is given — and
 * goes live publishing Chromium's fake camera. Resolves to the stream id.
 */
export async function creatorGoesLive(page, base, { title, price = '0.001', categoryName = 'Gaming', categoryId = null }) {
  await page.goto(pageUrl(base, '/creator.html'));
  await page.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
  await page.getByLabel('Account', { exact: true }).selectOption('//Alice');
  await page.waitForSelector('#account-balance[data-plancks]');
  if (categoryId !== null) {
    await page.locator('#dev-category').evaluate((d) => { d.open = true; });
    await page.getByLabel('Category id').fill(String(categoryId));
    await page.getByLabel('Name', { exact: true }).fill(categoryName);
    await page.getByRole('button', { name: 'Add category' }).click();
    await page.waitForSelector(`#category-status[data-state="ok"]:has-text("${categoryName}")`, { timeout: TX_TIMEOUT });
  }
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Category', { exact: true }).selectOption({ label: categoryName });
  await page.getByLabel('Price per second').fill(price);
  await page.getByRole('button', { name: 'Register stream' }).click();
  await page.waitForSelector('#register-status[data-state="ok"]', { timeout: 2 * TX_TIMEOUT });
  const streamId = Number(await page.locator('#register-status').getAttribute('data-stream-id'));
  await page.waitForSelector(`#studio[data-stream-id="${streamId}"]:not([hidden])`);
  await waitFor('enumerateDevices to list a camera', async () => (await page.locator('#camera option').count()) >= 1);
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.waitForSelector('#preview-video[data-previewing="true"]', { timeout: 20_000 });
  await page.getByRole('button', { name: 'Go live' }).click();
  await page.waitForSelector('#studio-status[data-live="true"]', { timeout: TX_TIMEOUT + 20_000 });
  const state = await waitFor('the publisher media negotiation to finish', async () => {
    const s = await page.locator('#publish-media-status').getAttribute('data-state');
    return ['connected', 'unsupported', 'unavailable', 'failed'].includes(s) ? s : null;
  }, { timeoutMs: 30_000 });
  assert.equal(state, 'connected', `publisher media: ${await page.locator('#publish-media-status').textContent()}`);
  return streamId;
}

/**
 * On a stream page: chooses `accountId` in the picker (connecting the wallet first for a wallet
 * account), escrows `seconds`, clicks "Start watching" and waits until the session is watched.
 * Resolves to the session id.
 */
export async function startWatching(page, { accountId, seconds, wallet = false }) {
  if (wallet) {
    await page.getByRole('button', { name: 'Connect browser wallet' }).click();
    await page.waitForSelector('#account-note[data-state="ok"]');
  }
  await page.getByLabel('Account', { exact: true }).selectOption(accountId);
  await page.waitForSelector('#account-balance[data-plancks]');
  await page.getByLabel('Seconds to pay into escrow').fill(String(seconds));
  await page.getByRole('button', { name: 'Start watching' }).click();
  await page.waitForSelector('body[data-session="open"]', { timeout: 2 * TX_TIMEOUT + 30_000 });
  return Number(await page.locator('#watch-status').getAttribute('data-session-id'));
}

/** The page's own signed seconds and the independent count of seconds with frames. */
export function signedAndDecoded(page) {
  return page.evaluate(() => {
    const id = window.vilokanam.session?.id;
    return {
      id,
      signed: window.vilokanam.signed,
      decoded: JSON.parse(localStorage.getItem(`__decoded.${id}`) ?? '[]').length,
    };
  });
}
