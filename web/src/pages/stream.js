// The stream page (viewer). Paying per second without a wallet prompt per second (docs/WALLET.md):
// the page holds a key of its own (pagekey.js); the wallet approves a daily budget once (an
// allowance to that key), then the page opens sessions and tops them up with delegate calls, signs
// a voucher for each second in which it showed video (meter.js; never more, whatever the sidecar
// says), logs in to the sidecar with that key, and closes the session with a signed close intent
// when the viewer leaves, switches streams or closes the tab — the refund (escrow − paid) follows
// on chain with no further action. Also: WebRTC playback, chat, tip, follow. An ended stream
// whose creator offers its replay is watched the same way from its recording (`replay`): a
// session at the replay price, the recording in the player (seekable), vouchers over HTTP.

import { accountPicker } from '../lib/account-picker.js';
import { ChatView } from '../lib/chat.js';
import { endpointSeed, sidecarForStream } from '../lib/config.js';
import { byId, errorText, h, setStatus, withBusy } from '../lib/dom.js';
import { clockTime, duration, formatBalance, parseUnits, shortAddress, tokenSymbol } from '../lib/format.js';
import { Heartbeats, joinRetryDelayMs } from '../lib/heartbeats.js';
import {
  MediaSession, MediaUnavailable, MediaUnsupported, iceFromJoined, mediaStateText, routeLabel,
} from '../lib/media.js';
import { WatchMeter } from '../lib/meter.js';
import { loadCategories, startPage } from '../lib/page.js';
import { pageKey } from '../lib/pagekey.js';
import {
  ERROR_TEXT, SidecarClient, SidecarError, closeIntentFields, closePayload, sessionLogin, sidecarHttpOrigin, voucherBody,
  voucherPayload,
} from '@vilokanam/sdk';
import { decodeAddress } from '@polkadot/util-crypto';
import { u8aEq } from '@polkadot/util';

/** The allowance's period and lifetime: the wallet is asked again once a day. */
const DAY_MS = 86_400_000;
/** An allowance this close to its expiry is not relied on (a call may wait a block or two). */
const EXPIRY_MARGIN_MS = 60_000;
/** How long the sidecar has to accept a close intent before the page submits it itself. */
const CLOSE_REPLY_MS = 5_000;
/** At most one media restart (a new offer) per this many ms. */
const MEDIA_RESTART_MS = 3_000;

const { config, chain, dev } = await startPage();
const { api } = chain;

const ui = {
  title: byId('stream-title'),
  meta: byId('stream-meta'),
  description: byId('stream-description'),
  video: byId('player'),
  overlay: byId('player-overlay'),
  mediaStatus: byId('media-status'),
  seconds: byId('seconds-watched'),
  paid: byId('amount-paid'),
  settled: byId('amount-settled'),
  escrowLeft: byId('escrow-left'),
  sessionStatus: byId('session-status'),
  openForm: byId('open-form'),
  openButton: byId('open-session'),
  escrowSeconds: byId('escrow-seconds'),
  escrowQuote: byId('escrow-quote'),
  useBudget: byId('use-budget'),
  budget: byId('budget'),
  budgetStatus: byId('budget-status'),
  sessionActions: byId('session-actions'),
  leave: byId('leave'),
  topupForm: byId('topup-form'),
  topupSeconds: byId('topup-seconds'),
  topup: byId('topup'),
  watchStatus: byId('watch-status'),
  summary: byId('leave-summary'),
  follow: byId('follow'),
  tipForm: byId('tip-form'),
  tipAmount: byId('tip-amount'),
  tipMessage: byId('tip-message'),
  tip: byId('tip'),
  supportStatus: byId('support-status'),
  chatLog: byId('chat-log'),
  chatForm: byId('chat-form'),
  chatInput: byId('chat-input'),
  chatSend: byId('chat-send'),
  chatStatus: byId('chat-status'),
};
byId('tip-unit').textContent = tokenSymbol();
byId('budget-unit').textContent = `${tokenSymbol()} per day`;

const query = new URLSearchParams(window.location.search);
const idParam = query.get('id');
// ?ice=relay: media only through the sidecar's TURN relay (iceTransportPolicy 'relay'), to check
// from a given network that the relay works; with a sidecar without TURN, no media then.
const forceRelay = query.get('ice') === 'relay';
const streamId = idParam === null || idParam.trim() === '' ? NaN : Number(idParam);
let stream = Number.isSafeInteger(streamId) && streamId >= 0 ? await chain.stream(streamId) : null;
if (!stream) {
  ui.title.textContent = 'Stream not found';
  setStatus(ui.watchStatus, 'There is no stream with this id. Go back to the live streams.', 'error');
  ui.openButton.disabled = true;
  throw new Error('no such stream');
}
const categories = await loadCategories(chain);
/** The stream has ended and its creator offers the replay: sessions pay the replay price. */
const replay = stream.status === 'Ended' && stream.replayPrice != null;
const price = BigInt(replay ? stream.replayPrice : stream.pricePerSecond);
/** The sidecar's `replay_ticket` for the replay session: `url` plays it, `token` pays for it. */
let replayTicket = null;
const sidecarUrl = sidecarForStream(config, stream, endpointSeed());
const sidecarOrigin = sidecarHttpOrigin(sidecarUrl);
document.title = `${stream.title} — Vilokanam`;
ui.title.textContent = stream.title;
ui.description.textContent = stream.metadata;

let roomViewers = null;
function renderMeta() {
  const parts = [
    h('span', { class: `badge ${stream.status === 'Live' ? 'live' : ''}`, id: 'stream-status', dataset: { status: stream.status } },
      stream.status === 'Live' ? 'LIVE' : replay ? 'REPLAY' : stream.status),
    ' ',
    h('span', { class: 'badge' }, categories.get(stream.category) ?? `category ${stream.category}`),
    ` ${formatBalance(price)} per second · `,
    h('span', { id: 'viewer-count' }, `${roomViewers ?? stream.currentViewers} watching`),
    ' · by ',
    h('span', { title: stream.creator }, shortAddress(stream.creator)),
  ];
  ui.meta.replaceChildren(...parts);
}
renderMeta();

// ---- state of the viewing session ----
// The session and its vouchers (signed, acknowledged, settled, close intent): `hb`
// (heartbeats.js), fed with the page's own measure (`meter`) and the clock by this page.
let account = null;
let key = null; // the page key of (chain, account)
const hb = new Heartbeats();
let client = null;
let media = null;
let roomIce = null; // the TURN credentials of the room's `joined`
let mediaTimer = null;
let lastMediaStart = 0;
let restartTimer = null;
const meter = new WatchMeter();
let metering = false;
let frameRequest = null;
let signTimer = null;
let leaving = false;
let reloading = false; // the page is being reloaded: keep the session for resuming

// The live counters of the stream on chain (status, viewers) at every best block.
await chain.subscribeStream(streamId, (s) => {
  const ended = s.status !== 'Live' && stream.status === 'Live';
  const started = s.status === 'Live' && stream.status !== 'Live';
  stream = { ...stream, status: s.status, currentViewers: s.currentViewers };
  renderMeta();
  if (ended) onStreamEnded();
  if (started) {
    ui.openButton.disabled = false;
    setStatus(ui.watchStatus, 'The stream is live.', 'ok');
  }
});

const chat = new ChatView({
  log: ui.chatLog,
  status: ui.chatStatus,
  me: () => account?.address,
  creator: stream.creator,
});

function sameAccount(a, b) {
  return u8aEq(decodeAddress(a), decodeAddress(b));
}

function storageKey() {
  return account ? `vilokanam.session.${chain.genesis}.${streamId}.${account.address}` : null;
}

function persist() {
  const record = hb.stored();
  if (record && account) {
    localStorage.setItem(storageKey(), JSON.stringify(record));
  }
}

function renderCounter() {
  // After leaving, the closed session's final numbers stay on screen.
  const shown = hb.shown;
  const p = shown?.price ?? price;
  const { signed, paidSeconds, settledSeconds } = hb;
  const paid = p * BigInt(paidSeconds);
  ui.seconds.textContent = `${signed} s${signed >= 60 ? ` (${duration(signed)})` : ''}`;
  ui.seconds.dataset.seconds = String(signed);
  ui.paid.textContent = shown ? formatBalance(paid) : '—';
  ui.paid.dataset.plancks = paid.toString();
  const settled = p * BigInt(settledSeconds);
  ui.settled.textContent = shown ? `${formatBalance(settled)} (${settledSeconds} s)` : '—';
  ui.settled.dataset.plancks = settled.toString();
  ui.settled.dataset.seconds = String(settledSeconds);
  const left = shown ? p * BigInt(shown.maxSeconds) - paid : 0n;
  ui.escrowLeft.textContent = !shown ? '—'
    : hb.session ? `${formatBalance(left)} (${shown.maxSeconds - paidSeconds} s)` : `${formatBalance(left)} refunded`;
  ui.escrowLeft.dataset.plancks = left.toString();
}
renderCounter();

/** `state`: 'none', 'open' (watching) or 'closing' (left, refund awaited); also body[data-session]. */
function setSessionUi(state) {
  const active = state === 'open';
  ui.openForm.hidden = state !== 'none';
  ui.sessionActions.hidden = !active;
  ui.topupForm.hidden = !active;
  ui.chatInput.disabled = !(active && client?.open);
  ui.chatSend.disabled = !(active && client?.open);
  document.body.dataset.session = state;
}

/** Sets `el`'s status unless it already says so (a live region would announce it again). */
function note(el, text, state) {
  if (el.textContent !== text || el.dataset.state !== state) setStatus(el, text, state);
}

// ---- daily budget (the allowance of the page key) ----
/** The account's allowance when its delegate is this page key and it has not expired. */
async function ownAllowance() {
  const a = await chain.allowance(account.address);
  return a && sameAccount(a.delegate, key.address) && a.expiresAt > Date.now() + EXPIRY_MARGIN_MS ? a : null;
}

/** The own allowance if `op` (committing `cost`) and its fee fit what is left of it, else null. */
async function usableAllowance(cost, op) {
  const a = await ownAllowance();
  if (!a) return null;
  // Twice the fee of a signed call of the same weight: the delegate fee is about that.
  const margin = 2n * await chain.delegateFeeEstimate(account.address, op);
  return BigInt(a.remaining) >= cost + margin ? a : null;
}

/** `#budget-status`: its text, and `data-allowance-id` / `data-remaining` (plancks) of the own allowance. */
async function renderBudget() {
  const who = account;
  if (!who || !key) {
    ui.budgetStatus.textContent = '';
    ui.budgetStatus.dataset.allowanceId = '';
    ui.budgetStatus.dataset.remaining = '';
    return;
  }
  const a = await chain.allowance(who.address).catch(() => null);
  if (account !== who) return;
  const own = a && sameAccount(a.delegate, key.address) && a.expiresAt > Date.now();
  ui.budgetStatus.dataset.allowanceId = own ? String(a.id) : '';
  ui.budgetStatus.dataset.remaining = own ? a.remaining : '';
  if (own) {
    const renews = a.period > 0 ? `, renewed at ${clockTime(a.periodStart + a.period)}` : '';
    ui.budgetStatus.textContent = `Daily budget: ${formatBalance(BigInt(a.remaining))} left of ${formatBalance(BigInt(a.amount))}${renews}; `
      + `approved until ${new Date(a.expiresAt).toLocaleString()}. Watching, switching streams and topping up ask your wallet nothing.`;
  } else if (a && sameAccount(a.delegate, key.address)) {
    ui.budgetStatus.textContent = 'Your daily budget has expired: “Start watching” asks your wallet to approve a new one.';
  } else if (a) {
    ui.budgetStatus.textContent = 'Your daily budget was approved in another browser: “Start watching” asks your wallet to approve one for this browser (it replaces the other).';
  } else {
    ui.budgetStatus.textContent = 'No daily budget yet: “Start watching” asks your wallet to approve one, once; then nothing more until it runs out or a day has passed.';
  }
}

/**
 * Opens the session through the allowance, asking the wallet for one (the only prompt) when the
 * page key has none that covers `deposit`.
 */
async function openWithBudget(seconds, deposit) {
  const op = { OpenSession: { streamId, maxSeconds: seconds, maxPricePerSecond: price, voucherKey: key.address } };
  let allowance = await usableAllowance(deposit, op);
  if (!allowance) {
    const budget = parseUnits(ui.budget.value);
    const fee = await chain.delegateFeeEstimate(account.address, op);
    if (budget < deposit + 2n * fee) {
      throw new Error(`a daily budget of ${formatBalance(budget)} does not cover this escrow (${formatBalance(deposit)}) and its fee: raise it, or escrow fewer seconds`);
    }
    await chain.send(api.tx.ticks.grantAllowance(key.address, budget, DAY_MS, Date.now() + DAY_MS), account,
      (s) => setStatus(ui.watchStatus, `Daily budget of ${formatBalance(budget)}: ${s}`, 'busy'));
    allowance = await usableAllowance(deposit, op);
    if (!allowance) throw new Error('the daily budget was approved but the chain does not show it yet; try again');
  }
  return chain.delegate(account.address, allowance, op, key,
    (s) => setStatus(ui.watchStatus, `Opening a session from your daily budget: ${s}`, 'busy'));
}

// ---- quote ----
async function updateQuote() {
  const seconds = Number(ui.escrowSeconds.value);
  if (!Number.isInteger(seconds) || seconds < 1) {
    ui.escrowQuote.textContent = 'Enter a whole number of seconds.';
    return;
  }
  try {
    const quote = BigInt(await chain.quote(streamId, seconds));
    ui.escrowQuote.textContent = `Escrow: ${formatBalance(quote)} for up to ${duration(seconds)}. You pay only for the seconds you watch; the rest is refunded when you leave.`;
    ui.escrowQuote.dataset.plancks = quote.toString();
  } catch (e) {
    ui.escrowQuote.textContent = `Cannot price this: ${errorText(e)}`;
  }
}
ui.escrowSeconds.addEventListener('input', updateQuote);
await updateQuote();

// ---- follow ----
async function refreshFollow() {
  if (!account || account.address === stream.creator) {
    ui.follow.disabled = true;
    ui.follow.textContent = 'Follow';
    ui.follow.setAttribute('aria-pressed', 'false');
    return;
  }
  const following = await chain.following(account.address);
  const yes = following.includes(stream.creator);
  ui.follow.disabled = false;
  ui.follow.textContent = yes ? 'Following — unfollow' : 'Follow';
  ui.follow.setAttribute('aria-pressed', String(yes));
}

ui.follow.addEventListener('click', () => withBusy(ui.follow, async () => {
  const following = ui.follow.getAttribute('aria-pressed') === 'true';
  const tx = following ? api.tx.streams.unfollow(stream.creator) : api.tx.streams.follow(stream.creator);
  try {
    await chain.send(tx, account, (s) => setStatus(ui.supportStatus, `${following ? 'Unfollow' : 'Follow'}: ${s}`, 'busy'));
    setStatus(ui.supportStatus, following ? 'You no longer follow this creator.' : 'You follow this creator.', 'ok');
  } catch (e) {
    setStatus(ui.supportStatus, errorText(e), 'error');
  }
}).then(refreshFollow));

// ---- tip ----
ui.tipForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  withBusy(ui.tip, async () => {
    if (!account) return setStatus(ui.supportStatus, 'Choose an account first.', 'error');
    let amount;
    try {
      amount = parseUnits(ui.tipAmount.value);
      if (amount === 0n) throw new Error('a tip must be above zero');
    } catch (e) {
      return setStatus(ui.supportStatus, `Tip: ${errorText(e)}`, 'error');
    }
    const message = ui.tipMessage.value.trim();
    try {
      const { blockHash } = await chain.send(api.tx.payouts.tip(streamId, amount, message ? message : null), account,
        (s) => setStatus(ui.supportStatus, `Tip: ${s}`, 'busy'));
      setStatus(ui.supportStatus, `Thank you! Tip of ${formatBalance(amount)} sent.`, 'ok');
      ui.supportStatus.dataset.tipPlancks = amount.toString();
      ui.supportStatus.dataset.block = blockHash;
      ui.tipMessage.value = '';
    } catch (e) {
      setStatus(ui.supportStatus, `Tip failed: ${errorText(e)}`, 'error');
    }
  });
});

// ---- chat ----
ui.chatForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text) return;
  try {
    chat.send(text);
    ui.chatInput.value = '';
    setStatus(ui.chatStatus, '', 'info');
  } catch (e) {
    setStatus(ui.chatStatus, errorText(e), 'error');
  }
});

// ---- media ----
function setMediaStatus(state, text) {
  ui.mediaStatus.dataset.state = state;
  ui.mediaStatus.textContent = text;
}

/**
 * How long the sidecar forwards media after the last acknowledged voucher: its `voucher_grace_ms`
 * (/config.json of the sidecar serving this page; another sidecar's may differ, then it is ours).
 */
function voucherGraceText() {
  const ms = Number(config.file?.voucher_grace_ms);
  return Number.isFinite(ms) && ms > 0 ? `${(ms / 1000).toLocaleString('en', { maximumFractionDigits: 1 })} s` : 'moments';
}

function onMediaState(state, detail) {
  // ?ice=relay: media that failed, or that the server dropped as disconnected, found no relay.
  const noRelay = forceRelay && (state === 'failed' || (state === 'closed' && detail === 'disconnected'));
  setMediaStatus(state, noRelay
    ? `Media: ${state} through the TURN relay only (?ice=relay): this sidecar has no TURN relay, or this network cannot reach it.`
    : mediaStateText(state, detail, {
      connected: 'Media: connected.',
      paused: `Media: paused by the media server (no voucher acknowledged in the last ${voucherGraceText()}) — reconnecting the video…`,
    }));
  ui.overlay.hidden = state === 'connected';
  if (state === 'unsupported') ui.overlay.textContent = 'No video: this sidecar does not speak the media protocol.';
  if (state === 'closed' || state === 'failed') ui.overlay.textContent = 'Video stopped.';
  if (state === 'paused') restartMediaSoon();
}

async function startMedia() {
  if (!client?.open) return;
  media?.close({ notify: false });
  media = new MediaSession(client, onMediaState, { ice: roomIce, iceTransportPolicy: forceRelay ? 'relay' : 'all' });
  lastMediaStart = Date.now();
  try {
    await media.receive((ms) => {
      if (ui.video.srcObject !== ms) {
        ui.video.srcObject = ms;
        if (metering) armFrames();
      }
      ui.video.play().catch(() => {});
    });
  } catch (e) {
    if (!(e instanceof MediaUnsupported || e instanceof MediaUnavailable)) console.warn('media', e);
    return;
  }
  clearInterval(mediaTimer);
  mediaTimer = setInterval(async () => {
    const [s, route] = await Promise.all([media?.inboundVideo().catch(() => null), media?.route().catch(() => null)]);
    if (!s) return;
    ui.mediaStatus.dataset.framesDecoded = String(s.framesDecoded);
    ui.mediaStatus.dataset.route = routeLabel(route);
    if (media?.state === 'connected') {
      const via = route?.candidateType === 'relay' ? ` via TURN relay (${route.relayProtocol ?? '?'})` : '';
      ui.mediaStatus.textContent = `Media: connected${via} — ${s.frameWidth}×${s.frameHeight}, ${s.framesDecoded} frames decoded.`;
    }
  }, 1000);
}

function stopMedia() {
  if (replay && ui.video.src) {
    ui.video.pause();
    ui.video.removeAttribute('src');
    ui.video.load();
  }
  clearInterval(mediaTimer);
  mediaTimer = null;
  clearTimeout(restartTimer);
  media?.close();
  media = null;
  ui.video.srcObject = null;
}

/**
 * The SFU stops forwarding to a viewer whose vouchers stopped, and this page signs only for
 * frames it shows: after a pause (a stall, a paused player, a hidden tab) neither would move
 * again. A new offer gets a fresh grace from the SFU, so the frames — and the vouchers — resume.
 */
function mediaShouldRestart() {
  return hb.session && !leaving && metering && client?.open && media?.state === 'paused' && !ui.video.paused
    && document.visibilityState === 'visible' && !hb.usedUp;
}

function restartMediaSoon() {
  clearTimeout(restartTimer);
  restartTimer = setTimeout(() => {
    if (mediaShouldRestart()) startMedia();
  }, Math.max(0, lastMediaStart + MEDIA_RESTART_MS - Date.now()));
}
ui.video.addEventListener('play', restartMediaSoon);
document.addEventListener('visibilitychange', restartMediaSoon);

// ---- metering and vouchers ----
function onFrame(now) {
  frameRequest = ui.video.requestVideoFrameCallback(onFrame);
  meter.frame(now);
  maybeSign();
}

function armFrames() {
  if (frameRequest !== null) ui.video.cancelVideoFrameCallback(frameRequest);
  frameRequest = ui.video.requestVideoFrameCallback(onFrame);
}

/** Starts measuring a session in this page's life, from what the page had signed for it. */
function beginSession() {
  meter.reset();
  hb.watch();
}

function startMetering() {
  metering = true;
  armFrames();
  clearInterval(signTimer);
  // Between frames too: the cap of elapsed chain time may have been what held a voucher back.
  signTimer = setInterval(maybeSign, 250);
}

function stopMetering() {
  metering = false;
  if (frameRequest !== null) ui.video.cancelVideoFrameCallback(frameRequest);
  frameRequest = null;
  clearInterval(signTimer);
  signTimer = null;
}

/** Signs and sends a voucher when the page's own measure is above what it signed. */
function maybeSign() {
  const { session } = hb;
  if (!session || !metering || !(replay ? replayTicket : client?.open)) return;
  const target = hb.nextVoucher({ watchedMs: meter.watchedMs, nowMs: Date.now() });
  if (target === null) {
    if (hb.usedUp) {
      note(ui.sessionStatus, 'The escrowed seconds are used up: top up to keep watching, or leave to settle.', 'error');
    }
    return;
  }
  const signature = key.sign(voucherPayload(chain.genesis, session.id, target));
  hb.signedUpTo(target);
  persist();
  renderCounter();
  if (replay) {
    postVoucher({ sessionId: session.id, cumulativeSeconds: target, signature });
    return;
  }
  try {
    client.heartbeat({ sessionId: session.id, cumulativeSeconds: target, signature });
  } catch {
    // The connection just closed: the reconnection sends the next voucher.
  }
}

/** The sidecar's answers to vouchers: shown, never fed back into what the page signs. */
function onAck(m) {
  if (!hb.ack(m.session_id, m.cumulative_seconds)) return;
  renderCounter();
  if (ui.sessionStatus.dataset.state === 'error' && !hb.usedUp) note(ui.sessionStatus, 'Watching.', 'ok');
}

function onSidecarError(e) {
  if (e.request !== 'heartbeat') return;
  const refusal = hb.voucherRefused(e.code);
  if (refusal === 'used_up') {
    note(ui.sessionStatus, 'The escrowed seconds are used up: top up to keep watching, or leave to settle.', 'error');
  } else if (refusal === 'refused') {
    note(ui.sessionStatus, `The sidecar refused a voucher: ${ERROR_TEXT[e.code] ?? e.message}. This page keeps signing only what it showed you.`, 'error');
  }
}

// ---- room ----
/** A sidecar connection logged in with the page key for the session, watching it. */
async function connectToRoom() {
  for (let attempt = 0; ; attempt++) {
    const c = new SidecarClient(sidecarUrl);
    try {
      await c.connect(sessionLogin(key, hb.session.id), { genesis: chain.genesis });
      chat.attach(c);
      c.on('stats', (s) => {
        roomViewers = s.viewers;
        renderMeta();
      });
      c.on('ack', onAck);
      c.on('error', onSidecarError);
      c.on('revoked', (m) => onRevoked(m.reason));
      c.on('peer_joined', (p) => {
        if (p.role === 'publisher' && media && ['closed', 'failed'].includes(media.state)) startMedia();
      });
      c.on('close', () => onConnectionClosed(c));
      // The sidecar reads the session at its best block: it may not have seen it yet.
      if (replay) {
        replayTicket = await c.request({ type: 'replay', stream_id: streamId, session_id: hb.session.id }, ['replay_ticket']);
        return c;
      }
      const joined = await c.request({ type: 'watch', stream_id: streamId, session_id: hb.session.id }, ['joined']);
      roomIce = iceFromJoined(joined);
      return c;
    } catch (e) {
      c.close();
      const delay = e instanceof SidecarError ? joinRetryDelayMs(e.code, attempt) : null;
      if (delay !== null) {
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      throw e;
    }
  }
}

async function joinRoom() {
  setStatus(ui.watchStatus, `Connecting to the sidecar at ${sidecarUrl}…`, 'busy');
  client = await connectToRoom();
  setSessionUi('open');
  setStatus(ui.watchStatus, `Watching with session #${hb.session.id}.`, 'ok');
  setStatus(ui.sessionStatus, 'Watching.', 'ok');
  setStatus(ui.chatStatus, replay ? 'No chat on a replay.' : '', 'info');
  startMetering();
  if (replay) startReplay();
  else startMedia();
}

/** Plays the replay's recording: the sidecar sends it as the vouchers allow, and it can be sought. */
function startReplay() {
  const src = `${sidecarOrigin}${replayTicket.url}`;
  if (ui.video.src !== src) {
    ui.video.srcObject = null;
    ui.video.src = src;
  }
  ui.video.controls = true;
  ui.overlay.hidden = true;
  ui.mediaStatus.textContent = `Replay: ${duration(Math.round(replayTicket.duration_ms / 1000))} recorded.`;
  armFrames();
  // Browsers may refuse to start playing long after the click (opening the session takes
  // blocks): the viewer presses play then.
  ui.video.play().catch(() => {
    ui.mediaStatus.textContent += ' Press play to watch.';
  });
}

/** A replay's voucher goes over HTTP with the session's token (there is no room to send it in). */
async function postVoucher(voucher) {
  try {
    const res = await fetch(`${sidecarOrigin}/vouchers`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${replayTicket.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(voucherBody(voucher)),
    });
    const body = await res.json().catch(() => ({}));
    if (res.ok) onAck(body);
    else onSidecarError({ request: 'heartbeat', code: body.code, message: body.message ?? `HTTP ${res.status}` });
  } catch {
    // The next second's voucher covers this one's seconds too.
  }
}

function onConnectionClosed(c) {
  // A replay needs the connection only for its ticket: it plays and pays over HTTP.
  if (client !== c || replay) return;
  ui.chatInput.disabled = true;
  ui.chatSend.disabled = true;
  if (hb.session && !leaving) {
    setStatus(ui.sessionStatus, 'Lost the connection to the sidecar — reconnecting…', 'error');
    stopMedia();
    setTimeout(() => reconnect(c), 2000);
  }
}

async function reconnect(old) {
  if (client !== old || !hb.session || leaving) return;
  try {
    await joinRoom();
  } catch (e) {
    setStatus(ui.sessionStatus, `Reconnect failed: ${errorText(e)} — retrying.`, 'error');
    setTimeout(() => reconnect(client), 5000);
  }
}

function leaveRoom() {
  stopMetering();
  stopMedia();
  chat.detach();
  if (client) {
    try {
      if (client.open) client.send({ type: 'leave' });
    } catch {
      // gone
    }
    client.close();
  }
  client = null;
}

function onRevoked(reason) {
  stopMetering();
  stopMedia();
  const texts = {
    session_closed: 'Your session was closed on chain.',
    session_expired: 'Your session was closed on chain as expired.',
    banned: 'The creator banned you from this stream. Leave to settle and get your refund.',
    stream_ended: 'The stream has ended.',
  };
  setStatus(ui.sessionStatus, texts[reason] ?? `Removed from the room: ${reason}`, 'error');
  ui.chatInput.disabled = true;
  ui.chatSend.disabled = true;
  if (leaving) return;
  if (reason === 'session_closed' || reason === 'session_expired') {
    localStorage.removeItem(storageKey());
    hb.dropped();
    leaveRoom();
    setSessionUi('none');
  } else if (reason === 'stream_ended') {
    leave();
  }
}

function onStreamEnded() {
  ui.openButton.disabled = true;
  setStatus(ui.watchStatus, 'This stream has ended.', 'info');
  if (hb.session && !leaving) leave();
}

// ---- open / resume ----
/** Opens a session: from the daily budget, or signed by the wallet. Resolves to `session`. */
async function openSession(seconds) {
  const deposit = price * BigInt(seconds);
  const { events, blockHash } = ui.useBudget.checked
    ? await openWithBudget(seconds, deposit)
    : await chain.send(api.tx.ticks.openSession(streamId, seconds, price, key.address), account,
      (s) => setStatus(ui.watchStatus, `Opening a session: ${s}`, 'busy'));
  const opened = chain.findEvent(events, 'ticks', 'SessionOpened');
  if (!opened) throw new Error('no SessionOpened event');
  // The session's clock starts at its block's timestamp: vouchers never go beyond it.
  const openedAt = (await (await api.at(blockHash)).query.timestamp.now()).toNumber();
  return {
    id: opened.data.sessionId.toNumber(),
    price: opened.data.pricePerSecond.toBigInt(),
    maxSeconds: opened.data.maxSeconds.toNumber(),
    openedAt,
  };
}

ui.openForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  withBusy(ui.openButton, async () => {
    if (!account) return setStatus(ui.watchStatus, 'Choose an account first.', 'error');
    if (!('requestVideoFrameCallback' in HTMLVideoElement.prototype)) {
      return setStatus(ui.watchStatus, 'This browser cannot tell which video frames it showed (requestVideoFrameCallback), so it cannot pay per second watched.', 'error');
    }
    ui.summary.hidden = true;
    try {
      if (!hb.session) {
        const seconds = Number(ui.escrowSeconds.value);
        if (!Number.isInteger(seconds) || seconds < 1) throw new Error('enter a whole number of seconds');
        hb.opened(await openSession(seconds));
        persist();
        ui.watchStatus.dataset.sessionId = String(hb.session.id);
        renderBudget();
      }
      beginSession();
      renderCounter();
      await joinRoom();
    } catch (e) {
      setStatus(ui.watchStatus, errorText(e), 'error');
      if (client) leaveRoom();
    }
  });
});

// ---- leave: the close intent, then the refund ----
/** Hands the close intent to the sidecar: over the connection, or `POST /close` without one. */
async function closeViaSidecar(intent) {
  if (client?.open) return client.closeSession(intent, { timeoutMs: CLOSE_REPLY_MS });
  const res = await fetch(`${sidecarOrigin}/close`, {
    method: 'POST',
    body: JSON.stringify(closeIntentFields(intent)),
    signal: AbortSignal.timeout(CLOSE_REPLY_MS),
  });
  if (res.status !== 202) throw new Error(`the sidecar refused it (HTTP ${res.status}: ${await res.text()})`);
  return null;
}

/**
 * Signs the close intent for `seconds` and gets it to the chain: through the sidecar (which also
 * settles what it acknowledged and, as the stream's relayer, closes at once), else by submitting
 * it here (free: the signature authorizes it).
 */
async function sendCloseIntent(s, seconds) {
  const intent = { sessionId: s.id, cumulativeSeconds: seconds, signature: key.sign(closePayload(chain.genesis, s.id, seconds)) };
  try {
    await closeViaSidecar(intent);
    return;
  } catch (e) {
    setStatus(ui.watchStatus, `The sidecar did not take the close request (${errorText(e)}); submitting it to the chain…`, 'busy');
  }
  const tx = api.tx.ticks.submitCloseIntent(s.id, {
    cumulativeSeconds: seconds, signer: 'VoucherKey', encoding: 'Raw', signature: { Sr25519: intent.signature },
  });
  try {
    await chain.submitAuthorized(tx, (st) => setStatus(ui.watchStatus, `Closing the session: ${st}`, 'busy'));
  } catch (e) {
    // Refused because the sidecar's copy got there first: the session is closing all the same.
    const now = await chain.session(s.id).catch(() => null);
    if (now?.open) throw e;
  }
}

/** Waits for `SessionClosed` of session `s`, from block `from` on; says what it waits for. */
async function waitClosed(s, from) {
  const info = await chain.session(s.id).catch(() => null);
  const windowMs = api.consts.ticks.settleWindow.toNumber();
  const refundAt = info?.refundAt ?? Date.now() + windowMs;
  setStatus(ui.watchStatus, `Session #${s.id} is closing: the stream's relayer settles what it acknowledged and refunds the rest, `
    + `usually within a few blocks. If this stream has no relayer, the refund comes when the settlement window ends, by ${clockTime(refundAt)}.`, 'busy');
  return chain.waitForEvent((e) => api.events.ticks.SessionClosed.is(e) && e.data.sessionId.eqn(s.id),
    { from, timeoutMs: Math.max(0, refundAt - Date.now()) + 3 * 60_000 });
}

function showSummary(s, { blockHash, event }) {
  const seconds = event.data.settledSeconds.toNumber();
  const refunded = event.data.refunded.toBigInt();
  const paid = s.price * BigInt(seconds);
  const escrow = s.price * BigInt(s.maxSeconds);
  const how = {
    Closed: 'closed at once by the stream\'s relayer',
    WindowElapsed: 'closed when the settlement window ended',
    Expired: 'closed as expired',
  }[event.data.reason.type] ?? event.data.reason.type;
  byId('summary-seconds').textContent = `${seconds} s`;
  byId('summary-seconds').dataset.seconds = String(seconds);
  byId('summary-paid').textContent = formatBalance(paid);
  byId('summary-paid').dataset.plancks = paid.toString();
  byId('summary-escrow').textContent = formatBalance(escrow);
  byId('summary-escrow').dataset.plancks = escrow.toString();
  byId('summary-refund').textContent = formatBalance(refunded);
  byId('summary-refund').dataset.plancks = refunded.toString();
  byId('summary-block').textContent = `Session ${how}, in block ${blockHash}.`;
  byId('summary-block').dataset.block = blockHash;
  ui.summary.hidden = false;
  ui.summary.dataset.sessionId = String(s.id);
  ui.summary.focus();
  hb.closedOnChain(seconds);
  renderCounter();
  setStatus(ui.watchStatus, `Session #${s.id} closed: paid ${formatBalance(paid)}, refunded ${formatBalance(refunded)}.`, 'ok');
}

async function leave() {
  if (!hb.session || leaving) return;
  const s = hb.session;
  maybeSign(); // the last seconds shown
  leaving = true;
  document.body.dataset.session = 'closing';
  ui.leave.disabled = true;
  stopMetering();
  stopMedia();
  try {
    const from = await chain.bestNumber();
    setStatus(ui.watchStatus, `Closing session #${s.id} at ${hb.signed} s…`, 'busy');
    await sendCloseIntent(s, hb.signed);
    hb.closeIntentSent();
    leaveRoom();
    localStorage.removeItem(storageKey());
    hb.left(s);
    setSessionUi('closing');
    setStatus(ui.sessionStatus, 'Not watching.', 'info');
    showSummary(s, await waitClosed(s, from));
    setSessionUi('none');
    ui.openButton.textContent = replay ? 'Watch the replay' : 'Start watching';
    renderBudget();
  } catch (e) {
    if (hb.closeSent) {
      setStatus(ui.watchStatus, `Session #${s.id} is closing, but its refund did not show up on chain yet (${errorText(e)}). It comes when the settlement window ends.`, 'error');
      setSessionUi('none');
    } else {
      setStatus(ui.watchStatus, `Leaving failed: ${errorText(e)}`, 'error');
      document.body.dataset.session = 'open';
      if (client?.open) {
        startMetering();
        startMedia();
      }
    }
  } finally {
    leaving = false;
    ui.leave.disabled = false;
  }
}
ui.leave.addEventListener('click', leave);

// ---- top up ----
ui.topupForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  withBusy(ui.topup, async () => {
    const extra = Number(ui.topupSeconds.value);
    if (!hb.session || !Number.isInteger(extra) || extra < 1) return;
    const onStatus = (s) => setStatus(ui.watchStatus, `Top up: ${s}`, 'busy');
    try {
      const op = { TopUp: { sessionId: hb.session.id, extraSeconds: extra } };
      const allowance = ui.useBudget.checked ? await usableAllowance(hb.session.price * BigInt(extra), op) : null;
      const { events } = allowance
        ? await chain.delegate(account.address, allowance, op, key, onStatus)
        : await chain.send(api.tx.ticks.topUp(hb.session.id, extra), account, onStatus);
      const topped = chain.findEvent(events, 'ticks', 'SessionToppedUp');
      if (topped) hb.toppedUp(topped.data.maxSeconds.toNumber());
      renderCounter();
      renderBudget();
      setStatus(ui.watchStatus, `Added ${extra} s${allowance ? ' from your daily budget' : ''}.`, 'ok');
      restartMediaSoon();
    } catch (e) {
      setStatus(ui.watchStatus, `Top up failed: ${errorText(e)}`, 'error');
    }
  });
});

// Settled seconds of the session and the budget left, at every new block.
await chain.subscribeHeads(async () => {
  renderBudget();
  if (!hb.session) return;
  const id = hb.session.id;
  try {
    const s = await chain.session(id);
    if (!s || !hb.settledOnChain(id, s.settledSeconds)) return;
    renderCounter();
  } catch {
    // next block
  }
});

// ---- account ----
async function onAccount(a) {
  if (hb.session && account && a?.id !== account.id) {
    if (!window.confirm('Switching accounts stops watching (your session stays open). Continue?')) return;
    leaveRoom();
    hb.dropped();
    setSessionUi('none');
  }
  account = a;
  key = a ? await pageKey(chain.genesis, a.address) : null;
  ui.openButton.textContent = replay ? 'Watch the replay' : 'Start watching';
  await Promise.all([refreshFollow().catch(() => {}), renderBudget()]);
  if (!a) return;
  // A session left open by an earlier visit (a reload) can be resumed or closed. It goes on from
  // what this page signed for it (or what the chain settled, if more), never from the sidecar.
  const stored = JSON.parse(localStorage.getItem(storageKey()) ?? 'null');
  if (stored && !hb.session) {
    const s = await chain.session(stored.id).catch(() => null);
    if (s && s.open && s.viewer === a.address && s.streamId === streamId && sameAccount(s.voucherKey, key.address)) {
      hb.resumed(
        { id: stored.id, price: BigInt(s.pricePerSecond), maxSeconds: s.maxSeconds, openedAt: s.openedAt },
        { storedSigned: stored.signed, settledSeconds: s.settledSeconds },
      );
      ui.watchStatus.dataset.sessionId = String(hb.session.id);
      renderCounter();
      ui.openButton.textContent = `Resume session #${stored.id}`;
      ui.sessionActions.hidden = false;
      setStatus(ui.watchStatus, `You have an open session #${stored.id}: resume watching, or leave to settle it.`, 'info');
    } else {
      localStorage.removeItem(storageKey());
    }
  }
}

await accountPicker(byId('account-picker'), { chain, dev, storageKey: 'vilokanam.viewer.account', onChange: onAccount });
if (replay) {
  ui.openButton.textContent = 'Watch the replay';
  setStatus(ui.watchStatus, `This stream has ended. Its replay is offered at ${formatBalance(price)} per second watched.`, 'info');
} else if (stream.status !== 'Live') {
  ui.openButton.disabled = true;
  setStatus(ui.watchStatus, stream.status === 'Ended' ? 'This stream has ended.' : 'This stream is not live yet.', 'info');
}

// ---- leaving the page ----
// A reload keeps the session, to be resumed; any other way out (another page, another stream,
// closing the tab) closes it with a close intent sent as a beacon, which survives the page.
// (`pageswap` tells a reload apart; without it — not Chromium — a reload closes the session too.)
window.addEventListener('pageswap', (ev) => {
  reloading = ev.activation?.navigationType === 'reload';
});
window.addEventListener('pagehide', () => {
  if (!hb.closeIntentDue({ reloading })) return;
  maybeSign();
  const { session, signed } = hb;
  const intent = { sessionId: session.id, cumulativeSeconds: signed, signature: key.sign(closePayload(chain.genesis, session.id, signed)) };
  // text/plain: a cross-origin beacon with it needs no preflight (which a beacon cannot make).
  navigator.sendBeacon(`${sidecarOrigin}/close`, new Blob([JSON.stringify(closeIntentFields(intent))], { type: 'text/plain' }));
  hb.closeIntentSent();
});
// Restored from the back/forward cache after a close intent left: start afresh.
window.addEventListener('pageshow', (ev) => {
  if (ev.persisted) window.location.reload();
});

// Handles for tests and debugging.
window.vilokanam = {
  get media() { return media; },
  get client() { return client; },
  get session() { return hb.session; },
  get replayTicket() { return replayTicket; },
  get meter() { return meter; },
  get signed() { return hb.signed; },
  get pageKey() { return key?.address ?? null; },
};
document.body.dataset.pageReady = 'true';
