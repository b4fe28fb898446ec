// The stream page (viewer): open a session on chain (escrow), join the room in the sidecar,
// receive the media over WebRTC, sign a voucher every second as a heartbeat, show what is
// watched / paid / settled, chat, tip, follow, and leave with `close_session` and the final
// voucher (refund = escrow − paid).

import { accountPicker } from '../lib/account-picker.js';
import { voucherPayload } from '../lib/chain.js';
import { ChatView } from '../lib/chat.js';
import { sidecarForStream } from '../lib/config.js';
import { byId, errorText, h, setStatus, withBusy } from '../lib/dom.js';
import { duration, formatBalance, formatUnits, parseUnits, shortAddress, tokenSymbol } from '../lib/format.js';
import { MediaSession, MediaUnavailable, MediaUnsupported, mediaStateText } from '../lib/media.js';
import { loadCategories, startPage } from '../lib/page.js';
import { ERROR_TEXT, SidecarClient, SidecarError } from '../lib/sidecar.js';

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
  intervalField: byId('voucher-interval-field'),
  interval: byId('voucher-interval'),
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

const idParam = new URLSearchParams(window.location.search).get('id');
const streamId = idParam === null || idParam.trim() === '' ? NaN : Number(idParam);
let stream = Number.isSafeInteger(streamId) && streamId >= 0 ? await chain.stream(streamId) : null;
if (!stream) {
  ui.title.textContent = 'Stream not found';
  setStatus(ui.watchStatus, 'There is no stream with this id. Go back to the live streams.', 'error');
  ui.openButton.disabled = true;
  throw new Error('no such stream');
}
const categories = await loadCategories(chain);
const price = BigInt(stream.pricePerSecond);
const sidecarUrl = sidecarForStream(config, stream);
document.title = `${stream.title} — Vilokanam`;
ui.title.textContent = stream.title;
ui.description.textContent = stream.metadata;

let roomViewers = null;
function renderMeta() {
  const parts = [
    h('span', { class: `badge ${stream.status === 'Live' ? 'live' : ''}`, id: 'stream-status', dataset: { status: stream.status } },
      stream.status === 'Live' ? 'LIVE' : stream.status),
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
/**
 * `session`: { id, price, maxSeconds, escrow (price × maxSeconds), openedAt } while a session of
 * the chosen account is open. `acked`: highest cumulative acknowledged by the sidecar; `sent`:
 * highest signed and sent; the voucher for `base + seconds since joinedAt` is sent every tick.
 */
let account = null;
let session = null;
let closedSession = null; // the last closed session, for the counter
let client = null;
let media = null;
let timer = null;
let acked = 0;
let sent = 0;
let base = 0;
let joinedAt = 0;
let signing = false;
let leaving = false;
let settledSeconds = 0;
let mediaTimer = null;

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

function storageKey() {
  return account ? `vilokanam.session.${chain.genesis}.${streamId}.${account.address}` : null;
}

function persist() {
  if (session && account) {
    localStorage.setItem(storageKey(), JSON.stringify({ id: session.id, acked }));
  }
}

function renderCounter() {
  // After leaving, the closed session's final numbers stay on screen.
  const shown = session ?? closedSession;
  const p = shown?.price ?? price;
  const paid = p * BigInt(acked);
  ui.seconds.textContent = `${acked} s${acked >= 60 ? ` (${duration(acked)})` : ''}`;
  ui.seconds.dataset.seconds = String(acked);
  ui.paid.textContent = shown ? formatBalance(paid) : '—';
  ui.paid.dataset.plancks = paid.toString();
  const settled = p * BigInt(settledSeconds);
  ui.settled.textContent = shown ? `${formatBalance(settled)} (${settledSeconds} s)` : '—';
  ui.settled.dataset.plancks = settled.toString();
  ui.settled.dataset.seconds = String(settledSeconds);
  const left = shown ? shown.escrow - paid : 0n;
  ui.escrowLeft.textContent = !shown ? '—'
    : session ? `${formatBalance(left)} (${shown.maxSeconds - acked} s)` : `${formatBalance(left)} refunded`;
  ui.escrowLeft.dataset.plancks = left.toString();
}
renderCounter();

function setSessionUi(active) {
  ui.openForm.hidden = active;
  ui.sessionActions.hidden = !active;
  ui.topupForm.hidden = !active;
  ui.chatInput.disabled = !(active && client?.open);
  ui.chatSend.disabled = !(active && client?.open);
  document.body.dataset.session = active ? 'open' : 'none';
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
    ui.escrowQuote.textContent = `Escrow: ${formatBalance(quote)} for up to ${duration(seconds)}. Unwatched seconds are refunded when you leave.`;
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

function onMediaState(state, detail) {
  setMediaStatus(state, mediaStateText(state, detail, {
    connected: 'Media: connected.',
    paused: 'Media: paused — your vouchers stopped; it resumes with the next acknowledged voucher.',
  }));
  ui.overlay.hidden = state === 'connected';
  if (state === 'unsupported') ui.overlay.textContent = 'No video: this sidecar does not speak the media protocol.';
  if (state === 'closed' || state === 'failed') ui.overlay.textContent = 'Video stopped.';
}

async function startMedia() {
  if (!client?.open) return;
  media?.close({ notify: false });
  media = new MediaSession(client, onMediaState);
  try {
    await media.receive((ms) => {
      if (ui.video.srcObject !== ms) ui.video.srcObject = ms;
      ui.video.play().catch(() => {});
    });
  } catch (e) {
    if (!(e instanceof MediaUnsupported || e instanceof MediaUnavailable)) console.warn('media', e);
    return;
  }
  clearInterval(mediaTimer);
  mediaTimer = setInterval(async () => {
    const s = await media?.inboundVideo().catch(() => null);
    if (!s) return;
    ui.mediaStatus.dataset.framesDecoded = String(s.framesDecoded);
    if (media?.state === 'connected') {
      ui.mediaStatus.textContent = `Media: connected — ${s.frameWidth}×${s.frameHeight}, ${s.framesDecoded} frames decoded.`;
    }
  }, 1000);
}

function stopMedia() {
  clearInterval(mediaTimer);
  mediaTimer = null;
  media?.close();
  media = null;
  ui.video.srcObject = null;
}

// ---- heartbeats ----
function stopHeartbeats() {
  clearInterval(timer);
  timer = null;
}

function startHeartbeats() {
  stopHeartbeats();
  base = acked;
  sent = acked;
  joinedAt = Date.now();
  const every = Math.max(1, Number(ui.interval.value) || 1);
  timer = setInterval(tick, every * 1000);
}

async function tick() {
  if (!session || !client?.open || leaving || signing) return;
  const elapsed = Math.floor((Date.now() - joinedAt) / 1000);
  const target = Math.min(base + elapsed, session.maxSeconds);
  if (target <= sent) {
    if (sent >= session.maxSeconds) {
      setStatus(ui.sessionStatus, 'The escrowed seconds are used up: top up to keep watching, or leave to settle.', 'error');
    }
    return;
  }
  signing = true;
  let signature;
  try {
    signature = await account.signBytes(voucherPayload(chain.genesis, session.id, target));
  } catch (e) {
    setStatus(ui.sessionStatus, `Voucher not signed: ${errorText(e)}`, 'error');
    return;
  } finally {
    signing = false;
  }
  if (!session || leaving || !client?.open) return;
  sent = target;
  client.heartbeat({ sessionId: session.id, cumulativeSeconds: target, signature, crypto: account.crypto })
    .then((ack) => {
      if (ack.cumulative_seconds > acked) {
        acked = ack.cumulative_seconds;
        renderCounter();
        persist();
      }
      if (ui.sessionStatus.dataset.state === 'error') setStatus(ui.sessionStatus, 'Watching.', 'ok');
    })
    .catch((e) => {
      if (!(e instanceof SidecarError)) return;
      if (e.code === 'stale') {
        // The sidecar acknowledged more than we know (e.g. after a reload): move on from here.
        base += target - acked;
      } else if (e.code === 'ahead_of_time') {
        sent = acked;
        base = acked;
        joinedAt = Date.now();
      } else if (e.code === 'above_max') {
        sent = session?.maxSeconds ?? sent;
      }
      setStatus(ui.sessionStatus, `Voucher ${target}: ${ERROR_TEXT[e.code] ?? e.message}`, 'error');
    });
}

// ---- room ----
async function joinRoom() {
  setStatus(ui.watchStatus, `Connecting to the sidecar at ${sidecarUrl}…`, 'busy');
  const c = new SidecarClient(sidecarUrl);
  await c.connect(account);
  if (c.genesis !== chain.genesis) {
    c.close();
    throw new Error(`the sidecar serves another chain (genesis ${c.genesis})`);
  }
  client = c;
  chat.attach(c);
  c.on('stats', (s) => {
    roomViewers = s.viewers;
    renderMeta();
  });
  c.on('revoked', (m) => onRevoked(m.reason));
  c.on('peer_joined', (p) => {
    if (p.role === 'publisher' && media && ['closed', 'failed'].includes(media.state)) startMedia();
  });
  c.on('close', () => {
    if (client !== c) return;
    ui.chatInput.disabled = true;
    ui.chatSend.disabled = true;
    if (session && !leaving) {
      setStatus(ui.sessionStatus, 'Lost the connection to the sidecar — reconnecting…', 'error');
      stopHeartbeats();
      setTimeout(() => reconnect(c), 2000);
    }
  });
  // The sidecar reads the session at its best block: retry briefly if it has not seen it yet.
  for (let attempt = 0; ; attempt++) {
    try {
      await c.request({ type: 'watch', stream_id: streamId, session_id: session.id }, ['joined']);
      break;
    } catch (e) {
      if (e instanceof SidecarError && (e.code === 'not_found' || e.code === 'rate_limited') && attempt < 5) {
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      throw e;
    }
  }
  setSessionUi(true);
  setStatus(ui.watchStatus, `Watching with session #${session.id}.`, 'ok');
  setStatus(ui.sessionStatus, 'Watching.', 'ok');
  setStatus(ui.chatStatus, '', 'info');
  startHeartbeats();
  startMedia();
}

async function reconnect(old) {
  if (client !== old || !session || leaving) return;
  try {
    await joinRoom();
  } catch (e) {
    setStatus(ui.sessionStatus, `Reconnect failed: ${errorText(e)} — retrying.`, 'error');
    setTimeout(() => reconnect(client), 5000);
  }
}

function leaveRoom() {
  stopHeartbeats();
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
  stopHeartbeats();
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
    session = null;
    leaveRoom();
    setSessionUi(false);
  } else if (reason === 'stream_ended') {
    leave();
  }
}

function onStreamEnded() {
  ui.openButton.disabled = true;
  setStatus(ui.watchStatus, 'This stream has ended.', 'info');
  if (session && !leaving) leave();
}

// ---- open / resume / leave ----
ui.openForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  withBusy(ui.openButton, async () => {
    if (!account) return setStatus(ui.watchStatus, 'Choose an account first.', 'error');
    ui.summary.hidden = true;
    try {
      if (!session) {
        const seconds = Number(ui.escrowSeconds.value);
        if (!Number.isInteger(seconds) || seconds < 1) throw new Error('enter a whole number of seconds');
        const { events, blockHash } = await chain.send(api.tx.ticks.openSession(streamId, seconds), account,
          (s) => setStatus(ui.watchStatus, `Opening a session: ${s}`, 'busy'));
        const opened = chain.findEvent(events, 'ticks', 'SessionOpened');
        if (!opened) throw new Error('no SessionOpened event');
        const [id, , , p, max, deposit] = opened.data;
        session = {
          id: id.toNumber(),
          price: p.toBigInt(),
          maxSeconds: max.toNumber(),
          escrow: deposit.toBigInt(),
          openedIn: blockHash,
        };
        acked = 0;
        settledSeconds = 0;
        closedSession = null;
        persist();
        ui.watchStatus.dataset.sessionId = String(session.id);
        renderCounter();
      }
      await joinRoom();
    } catch (e) {
      setStatus(ui.watchStatus, errorText(e), 'error');
      if (client) leaveRoom();
    }
  });
});

async function leave() {
  if (!session || leaving) return;
  leaving = true;
  ui.leave.disabled = true;
  stopHeartbeats();
  try {
    // Let the vouchers in flight be acknowledged, then close with the highest one.
    const deadline = Date.now() + 4000;
    while (client?.heartbeats.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const final = acked;
    let voucher = null;
    if (final > 0) {
      setStatus(ui.watchStatus, `Signing the final voucher (${final} s)…`, 'busy');
      const signature = await account.signBytes(voucherPayload(chain.genesis, session.id, final));
      voucher = chain.finalVoucher(final, account.crypto, signature);
    }
    const s = session;
    const { events, blockHash } = await chain.send(api.tx.ticks.closeSession(s.id, voucher), account,
      (st) => setStatus(ui.watchStatus, `Closing the session: ${st}`, 'busy'));
    const closed = chain.findEvent(events, 'ticks', 'SessionClosed');
    leaveRoom();
    const seconds = closed ? closed.data[1].toNumber() : final;
    const refunded = closed ? closed.data[2].toBigInt() : null;
    const paid = s.price * BigInt(seconds);
    byId('summary-seconds').textContent = `${seconds} s`;
    byId('summary-seconds').dataset.seconds = String(seconds);
    byId('summary-paid').textContent = formatBalance(paid);
    byId('summary-paid').dataset.plancks = paid.toString();
    byId('summary-escrow').textContent = formatBalance(s.escrow);
    byId('summary-escrow').dataset.plancks = s.escrow.toString();
    byId('summary-refund').textContent = refunded === null ? '—' : formatBalance(refunded);
    byId('summary-refund').dataset.plancks = refunded === null ? '' : refunded.toString();
    const rejected = chain.findEvent(events, 'ticks', 'VoucherRejected');
    byId('summary-block').textContent = `Closed in block ${blockHash}.${rejected ? ` The final voucher was not needed (${rejected.data[1].toString()}): the relay had settled it.` : ''}`;
    byId('summary-block').dataset.block = blockHash;
    ui.summary.hidden = false;
    ui.summary.dataset.sessionId = String(s.id);
    ui.summary.focus();
    localStorage.removeItem(storageKey());
    closedSession = s;
    session = null;
    acked = seconds;
    settledSeconds = seconds;
    renderCounter();
    setSessionUi(false);
    setStatus(ui.watchStatus, `Session #${s.id} closed: paid ${formatBalance(paid)}, refunded ${refunded === null ? '—' : formatBalance(refunded)}.`, 'ok');
    setStatus(ui.sessionStatus, 'Not watching.', 'info');
    ui.openButton.textContent = 'Start watching';
  } catch (e) {
    setStatus(ui.watchStatus, `Leaving failed: ${errorText(e)}`, 'error');
    if (session && client?.open) startHeartbeats();
  } finally {
    leaving = false;
    ui.leave.disabled = false;
  }
}
ui.leave.addEventListener('click', leave);

ui.topupForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  withBusy(ui.topup, async () => {
    const extra = Number(ui.topupSeconds.value);
    if (!session || !Number.isInteger(extra) || extra < 1) return;
    try {
      const { events } = await chain.send(api.tx.ticks.topUp(session.id, extra), account,
        (s) => setStatus(ui.watchStatus, `Top up: ${s}`, 'busy'));
      const ev2 = chain.findEvent(events, 'ticks', 'SessionToppedUp');
      if (ev2 && session) {
        session.maxSeconds = ev2.data[1].toNumber();
        session.escrow += ev2.data[2].toBigInt();
      }
      renderCounter();
      setStatus(ui.watchStatus, `Added ${extra} s.`, 'ok');
    } catch (e) {
      setStatus(ui.watchStatus, `Top up failed: ${errorText(e)}`, 'error');
    }
  });
});

// Settled seconds of the session on chain, at every new block.
await chain.subscribeHeads(async () => {
  if (!session) return;
  const id = session.id;
  try {
    const s = await chain.session(id);
    if (!session || session.id !== id || !s) return;
    settledSeconds = s.settledSeconds;
    renderCounter();
  } catch {
    // next block
  }
});

// ---- account ----
async function onAccount(a) {
  if (session && account && a?.id !== account.id) {
    if (!window.confirm('Switching accounts stops watching (your session stays open). Continue?')) return;
    leaveRoom();
    session = null;
    setSessionUi(false);
  }
  account = a;
  // A wallet asks to approve every signature: its user may sign less often (the media pauses
  // between vouchers then). Development keys sign every second.
  ui.intervalField.hidden = !(a && a.source === 'extension');
  if (a?.source !== 'extension') ui.interval.value = '1';
  ui.openButton.textContent = 'Start watching';
  await refreshFollow().catch(() => {});
  if (!a) return;
  // A session left open by an earlier visit (e.g. a reload) can be resumed or closed.
  const stored = JSON.parse(localStorage.getItem(storageKey()) ?? 'null');
  if (stored && !session) {
    const s = await chain.session(stored.id).catch(() => null);
    if (s && s.open !== false && s.viewer === a.address && s.streamId === streamId) {
      session = {
        id: stored.id,
        price: BigInt(s.pricePerSecond),
        maxSeconds: s.maxSeconds,
        escrow: BigInt(s.pricePerSecond) * BigInt(s.maxSeconds),
      };
      acked = Math.max(stored.acked ?? 0, s.settledSeconds);
      settledSeconds = s.settledSeconds;
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
if (stream.status !== 'Live') {
  ui.openButton.disabled = true;
  setStatus(ui.watchStatus, stream.status === 'Ended' ? 'This stream has ended.' : 'This stream is not live yet.', 'info');
}
window.addEventListener('pagehide', () => {
  // The session stays open on chain; it can be resumed (or it expires and is refunded).
  persist();
});
// Handles for tests and debugging.
window.vilokanam = {
  get media() { return media; },
  get client() { return client; },
  get session() { return session; },
};
document.body.dataset.pageReady = 'true';
