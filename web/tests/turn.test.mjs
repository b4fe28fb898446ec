// Media through the sidecar's TURN relay (coturn with the REST shared secret), in headless
// Chromium against a real dev chain, the real sidecar and a real coturn on 127.0.0.1.
//
//   NODE_BIN=… SIDECAR_BIN=… node --test web/tests/turn.test.mjs   (coturn: /usr/bin/turnserver, TURN_BIN)
//
// The sidecar hands TURN credentials that expire after 40 s (`--turn-ttl-secs 40`) to the
// members of a room in `joined`, and fresh ones on `ice_servers`; the pages renew them before a
// connection would use them within a minute of their expiry, so with this TTL they always ask.
// The creator (//Alice) goes live as usual (every route allowed). Each viewer opens the stream
// page with `?ice=relay` (iceTransportPolicy 'relay': media only through the relay) and a
// WebSocket route that rewrites what the sidecar says about ICE servers (`joined`,
// `ice_servers`) before the page sees it:
//   (a) //Bob gets only the `?transport=udp` URL: frames decode, the route is relay/udp, and the
//       page pays for what it shows;
//   (b) //Charlie gets only the `?transport=tcp` URL: frames decode over relay/tcp;
//   (c) //Dave gets no servers: no route, no frame, nothing signed — with an open, paid session;
//   (d) //Eve gets (a)'s credentials once they have expired: coturn refuses them (its log names
//       the user), no frame, nothing signed.
// Screenshots and process logs (coturn's too): web/test-artifacts/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sleep, startTurn, stopAll, tail, waitFor } from './harness.mjs';
import { creatorGoesLive, newPage, pageUrl, shot, startStack, startWatching, stepper } from './helpers.mjs';

const TTL_SECS = 40;
const ESCROW_SECONDS = 300;
/** How long a viewer without a usable relay is watched for media that must not come. */
const NO_MEDIA_MS = 20_000;

let turn;
let sidecar;
let base;
let api;
let browser;
let creator;
const viewers = [];

const step = stepper({ pages: () => [creator, ...viewers], sidecar: () => sidecar });
const nowSecs = () => Math.floor(Date.now() / 1000);
const urlsOf = (servers) => servers.flatMap((s) => [].concat(s.urls));
const turnLog = () => readFileSync(turn.proc.logPath, 'utf8');

/**
 * A viewer page whose sidecar messages about ICE servers pass through `change({servers,
 * expiresAt})`, which returns what the page gets instead (null: no TURN at all). Every such
 * message is kept in `page.ice` as `{type, original, sent}`.
 */
async function viewerPage(name, change) {
  const page = await newPage(browser, name);
  page.ice = [];
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => ws.send(typeof m === 'string' ? rewrite(page, m, change) : m));
  });
  viewers.push(page);
  return page;
}

/** `joined` and the `ice_servers` reply both carry `ice_servers` + `ice_expires_at`. */
function rewrite(page, text, change) {
  const msg = JSON.parse(text);
  if (msg.type !== 'joined' && msg.type !== 'ice_servers') return text;
  const expiry = 'ice_expires_at';
  const original = { servers: msg.ice_servers ?? [], expiresAt: msg[expiry] ?? null };
  const sent = change(original);
  const out = { ...msg };
  delete out.ice_servers;
  delete out[expiry];
  if (sent) Object.assign(out, { ice_servers: sent.servers, [expiry]: sent.expiresAt });
  else if (msg.type === 'ice_servers') Object.assign(out, { ice_servers: [], ice_expires_at: null });
  page.ice.push({ type: msg.type, original, sent });
  return JSON.stringify(out);
}

/** Keeps only the URLs ending in `?transport=<transport>`. */
const only = (transport) => ({ servers, expiresAt }) => ({
  servers: servers.map((s) => ({ ...s, urls: urlsOf([s]).filter((u) => u.endsWith(`?transport=${transport}`)) }))
    .filter((s) => s.urls.length > 0),
  expiresAt,
});

/** The viewer's media as the page shows it (#media-status) and its connection's state. */
function mediaOf(page) {
  return page.evaluate(() => {
    const el = document.getElementById('media-status');
    return {
      state: el.dataset.state,
      route: el.dataset.route ?? '',
      frames: Number(el.dataset.framesDecoded ?? 0),
      text: el.textContent,
      pc: window.vilokanam.media?.pc?.connectionState ?? null,
      config: window.vilokanam.media?.pc?.getConfiguration() ?? null,
    };
  });
}

/** Opens the stream page relay-only, watches as `accountId`; resolves to the session id. */
async function watchRelayOnly(page, streamId, accountId) {
  await page.goto(pageUrl(base, '/stream.html', { id: streamId, ice: 'relay' }));
  await page.waitForSelector('body[data-page-ready="true"]', { timeout: 60_000 });
  return startWatching(page, { accountId, seconds: ESCROW_SECONDS });
}

/** Waits for frames through the relay over `transport`; returns the last media sample. */
async function framesVia(page, transport) {
  let last;
  try {
    await waitFor(`frames decoded through relay/${transport}`, async () => {
      last = await mediaOf(page);
      return last.frames >= 30 && last.route === `relay/${transport}` && last.state === 'connected';
    }, { timeoutMs: 45_000, intervalMs: 500 });
  } catch (e) {
    e.message += `\nmedia: ${JSON.stringify(last)}\n${tail(turn.proc)}`;
    throw e;
  }
  return last;
}

/** Watches the page for `ms`: media must never connect nor decode a frame, nothing be signed. */
async function assertNoMedia(page, ms) {
  const states = new Set();
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = await mediaOf(page);
    states.add(m.state);
    assert.equal(m.frames, 0, `no frame may be decoded: ${JSON.stringify(m)}`);
    assert.ok(!m.route.startsWith('relay') && m.pc !== 'connected', `no route may be found: ${JSON.stringify(m)}`);
    if (m.config) assert.equal(m.config.iceTransportPolicy, 'relay');
    await sleep(500);
  }
  assert.ok(!states.has('connected'), `media states seen: ${[...states].join(', ')}`);
  // The session is open and paid for, but the page signs only for frames it showed: none.
  assert.equal(await page.locator('body').getAttribute('data-session'), 'open');
  assert.equal(await page.evaluate(() => window.vilokanam.signed), 0, 'nothing signed without media');
}

before(async () => {
  turn = await startTurn();
  ({ sidecar, api, browser, base } = await startStack({
    sidecarArgs: [
      '--turn-url', turn.urls.join(','), '--turn-secret-file', turn.secretFile, '--turn-ttl-secs', String(TTL_SECS),
    ],
  }));
  creator = await newPage(browser, 'creator');
}, { timeout: 240_000 });

after(async () => {
  for (const page of [creator, ...viewers]) {
    if (page) {
      await shot(page, `zz-final-${page.label}`);
      await page.context().close().catch(() => {});
    }
  }
  await stopAll();
});

test('media through the TURN relay: UDP, TCP; none without credentials or with expired ones', { timeout: 900_000 }, async (t) => {
  let streamId;
  let captured; // (a)'s credentials, for (d)

  await step(t, '/config.json says the sidecar has TURN, and holds no secret', async () => {
    const text = await fetch(`${base}/config.json`).then((r) => r.text());
    assert.equal(JSON.parse(text).turn, true);
    assert.ok(!text.includes(readFileSync(turn.secretFile, 'utf8').trim()), 'no secret in /config.json');
  });

  await step(t, 'the creator goes live (every route allowed) with TURN credentials from joined', async () => {
    streamId = await creatorGoesLive(creator, base, { title: 'TURN relay', categoryId: 1, categoryName: 'Gaming' });
    const ice = await creator.evaluate(() => window.vilokanam.media.ice);
    assert.deepEqual(urlsOf(ice.servers).sort(), [...turn.urls].sort(), 'the publisher got both URLs');
    const route = await creator.evaluate(() => window.vilokanam.media.route());
    assert.notEqual(route?.candidateType, 'relay', `the creator is not relayed: ${JSON.stringify(route)}`);
  });

  await step(t, '(a) relay over UDP only: the viewer decodes frames via relay/udp and pays for them', async () => {
    const page = await viewerPage('viewer-udp', only('udp'));
    const sessionId = await watchRelayOnly(page, streamId, '//Bob');
    const media = await framesVia(page, 'udp');
    assert.match(media.text, /via TURN relay \(udp\)/);
    assert.deepEqual(urlsOf(media.config.iceServers), [turn.urls[0]], 'the connection was given the UDP URL only');
    // What the sidecar sent: both URLs, one credential whose username starts with its expiry.
    const joined = page.ice.find((e) => e.type === 'joined');
    assert.ok(joined, 'joined carried ICE servers');
    assert.deepEqual(urlsOf(joined.original.servers).sort(), [...turn.urls].sort());
    const { expiresAt } = joined.original;
    assert.ok(expiresAt > nowSecs() - TTL_SECS && expiresAt <= nowSecs() + TTL_SECS + 5, `ice_expires_at ${expiresAt}`);
    for (const s of joined.original.servers) {
      assert.equal(Number(s.username.split(':')[0]), expiresAt, `username ${s.username} names its expiry`);
      assert.ok(s.credential, 'a credential');
    }
    // Within a minute of their expiry (always, with a 40 s TTL): renewed before the connection.
    const renewed = page.ice.filter((e) => e.type === 'ice_servers');
    assert.ok(renewed.length >= 1, 'the page asked for fresh credentials');
    captured = renewed.at(-1).sent;
    assert.ok(captured.servers.length > 0 && captured.expiresAt <= nowSecs() + TTL_SECS, JSON.stringify(captured));
    await waitFor('a voucher for relayed frames', () => page.evaluate(() => window.vilokanam.signed >= 3), { timeoutMs: 20_000 });
    assert.ok((await api.query.ticks.sessions(sessionId)).isSome, 'the session is open on chain');
    await shot(page, 'a-relay-udp');
  });

  await step(t, '(b) relay over TCP only: the viewer decodes frames via relay/tcp', async () => {
    const page = await viewerPage('viewer-tcp', only('tcp'));
    await watchRelayOnly(page, streamId, '//Charlie');
    const media = await framesVia(page, 'tcp');
    assert.match(media.text, /via TURN relay \(tcp\)/);
    assert.deepEqual(urlsOf(media.config.iceServers), [turn.urls[1]], 'the connection was given the TCP URL only');
    await shot(page, 'b-relay-tcp');
  });

  await step(t, '(c) no credentials: relay-only media never connects, nothing is decoded or signed', async () => {
    const page = await viewerPage('viewer-none', () => null);
    const sessionId = await watchRelayOnly(page, streamId, '//Dave');
    assert.ok((await api.query.ticks.sessions(sessionId)).isSome, 'the session is open on chain');
    await assertNoMedia(page, NO_MEDIA_MS);
    assert.deepEqual(await page.evaluate(() => window.vilokanam.media?.ice), { servers: [], expiresAt: null });
    assert.ok(page.ice.length > 0 && page.ice.every((e) => e.original.servers.length > 0), 'the sidecar did offer TURN');
    await shot(page, 'c-no-credentials');
  });

  await step(t, '(d) expired credentials: coturn refuses them, media never connects', async () => {
    await waitFor(`(a)'s credentials to expire (${captured.expiresAt})`, () => nowSecs() > captured.expiresAt + 1,
      { timeoutMs: (TTL_SECS + 10) * 1000, intervalMs: 500 });
    const logFrom = turnLog().length;
    const page = await viewerPage('viewer-expired', () => captured);
    const sessionId = await watchRelayOnly(page, streamId, '//Eve');
    assert.ok((await api.query.ticks.sessions(sessionId)).isSome, 'the session is open on chain');
    await assertNoMedia(page, NO_MEDIA_MS);
    assert.deepEqual(await page.evaluate(() => window.vilokanam.media?.ice), captured, 'the page held the expired ones');
    // coturn 4.6.1 answers an expired REST username with 401 and logs it as unknown.
    const [username] = captured.servers.map((s) => s.username);
    await waitFor('coturn to refuse the expired username', () => turnLog().slice(logFrom)
      .includes(`Cannot find credentials of user <${username}>`), { timeoutMs: 10_000 })
      .catch((e) => { e.message += `\n${tail(turn.proc)}`; throw e; });
    await shot(page, 'd-expired-credentials');
  });
});
