// Creator studio: register a stream (title, category, price, revenue split), choose camera and
// microphone, preview, go live (`go_live` on chain, `publish` in the sidecar room, media to the
// SFU over WebRTC), watch the live stats, moderate the chat (delete a message; ban a viewer on
// chain), end the stream; or get WHIP credentials to publish from OBS instead.

import { accountPicker } from '../lib/account-picker.js';
import { ChatView } from '../lib/chat.js';
import { byId, copyText, errorText, h, setStatus, withBusy } from '../lib/dom.js';
import { formatBalance, formatUnits, parseUnits, shortAddress, tokenSymbol } from '../lib/format.js';
import { streamEndpointFor } from '../lib/config.js';
import { applyRelayerTerms } from '../lib/terms.js';
import { MediaSession, MediaUnavailable, MediaUnsupported, iceFromJoined, mediaStateText } from '../lib/media.js';
import { loadCategories, startPage } from '../lib/page.js';
import { SidecarClient, SidecarError, accountLogin, sidecarHttpOrigin } from '@vilokanam/sdk';
import { devAccounts } from '../lib/wallet.js';

const { config, chain, dev } = await startPage();
const { api } = chain;
const sidecarUrl = config.sidecarUrl;

const ui = {
  lifetime: byId('lifetime-earnings'),
  myStreams: byId('my-streams'),
  myStreamsStatus: byId('my-streams-status'),
  registerForm: byId('register-form'),
  title: byId('title'),
  description: byId('description'),
  category: byId('category'),
  categoryHint: byId('category-hint'),
  devCategory: byId('dev-category'),
  newCategoryId: byId('new-category-id'),
  newCategoryName: byId('new-category-name'),
  addCategory: byId('add-category'),
  categoryStatus: byId('category-status'),
  tags: byId('tags'),
  price: byId('price'),
  priceHint: byId('price-hint'),
  splitRows: byId('split-rows'),
  addCollaborator: byId('add-collaborator'),
  splitSummary: byId('split-summary'),
  register: byId('register'),
  registerStatus: byId('register-status'),
  studio: byId('studio'),
  studioHeading: byId('studio-heading'),
  studioMeta: byId('studio-meta'),
  camera: byId('camera'),
  microphone: byId('microphone'),
  preview: byId('preview'),
  previewVideo: byId('preview-video'),
  deviceStatus: byId('device-status'),
  sendBrowserMedia: byId('send-browser-media'),
  goLive: byId('go-live'),
  endStream: byId('end-stream'),
  studioStatus: byId('studio-status'),
  mediaStatus: byId('publish-media-status'),
  statViewers: byId('stat-viewers'),
  statSeconds: byId('stat-seconds'),
  statOwed: byId('stat-owed'),
  statSettled: byId('stat-settled'),
  chainTotals: byId('chain-totals'),
  chatLog: byId('chat-log'),
  chatForm: byId('chat-form'),
  chatInput: byId('chat-input'),
  chatSend: byId('chat-send'),
  chatStatus: byId('chat-status'),
  whipToken: byId('whip-token'),
  whipCredentials: byId('whip-credentials'),
  whipUrl: byId('whip-url'),
  whipBearer: byId('whip-bearer'),
  whipStatus: byId('whip-status'),
};
byId('price-unit').textContent = `${tokenSymbol()} per second`;

let account = null;
let categories = new Map();
let myStreams = [];
let selected = null; // the stream in the studio (RPC shape)
let client = null; // sidecar connection (authenticated), for the selected stream's room
let joinedStream = null;
let media = null;
let localStream = null;
let unsubStream = null;
let outboundTimer = null;

// ---- categories ----
async function refreshCategories() {
  categories = await loadCategories(chain);
  const previous = ui.category.value;
  ui.category.replaceChildren(...(categories.size
    ? [...categories].map(([id, name]) => h('option', { value: String(id) }, name))
    : [h('option', { value: '' }, '— no category on this chain —')]));
  if (previous && categories.has(Number(previous))) ui.category.value = previous;
  ui.categoryHint.textContent = categories.size ? '' : 'This chain has no category yet; its root account must add one.';
  const next = categories.size ? Math.max(...categories.keys()) + 1 : 1;
  ui.newCategoryId.value = String(next);
}

async function setupDevCategory() {
  if (!dev) return;
  const sudoKey = (await api.query.sudo?.key?.())?.toString();
  const alice = (await devAccounts())[0];
  if (sudoKey !== alice.address) return;
  ui.devCategory.hidden = false;
  if (categories.size === 0) ui.devCategory.open = true;
  ui.addCategory.addEventListener('click', () => withBusy(ui.addCategory, async () => {
    const id = Number(ui.newCategoryId.value);
    const name = ui.newCategoryName.value.trim();
    if (!Number.isInteger(id) || id < 0 || !name) {
      return setStatus(ui.categoryStatus, 'Give a category id and a name.', 'error');
    }
    try {
      const tx = api.tx.sudo.sudo(api.tx.streams.addCategory(id, name));
      await chain.send(tx, alice, (s) => setStatus(ui.categoryStatus, `Adding “${name}”: ${s}`, 'busy'));
      setStatus(ui.categoryStatus, `Category “${name}” added.`, 'ok');
      ui.newCategoryName.value = '';
      await refreshCategories();
      ui.category.value = String(id);
    } catch (e) {
      setStatus(ui.categoryStatus, errorText(e), 'error');
    }
  }));
}

// ---- price and split ----
function updatePriceHint() {
  try {
    const p = parseUnits(ui.price.value);
    ui.priceHint.textContent = `${formatBalance(p * 60n)} per minute, ${formatBalance(p * 3600n)} per hour.`;
    ui.price.removeAttribute('aria-invalid');
  } catch (e) {
    ui.priceHint.textContent = errorText(e);
    ui.price.setAttribute('aria-invalid', 'true');
  }
}
ui.price.addEventListener('input', updatePriceHint);
updatePriceHint();

let rowCounter = 0;
function addSplitRow(address = '', percent = '') {
  const n = ++rowCounter;
  const row = h('li', { class: 'split-row' },
    h('div', { class: 'field' },
      h('label', { for: `split-account-${n}` }, 'Collaborator account'),
      h('input', { id: `split-account-${n}`, class: 'split-account', type: 'text', value: address, placeholder: '5… (SS58 address)', autocomplete: 'off' })),
    h('div', { class: 'field' },
      h('label', { for: `split-share-${n}` }, 'Share (%)'),
      h('input', { id: `split-share-${n}`, class: 'split-share', type: 'number', min: '0', max: '100', step: '0.0001', value: percent })),
    h('button', {
      type: 'button', class: 'link', 'aria-label': `Remove collaborator ${n}`,
      onclick: () => { row.remove(); updateSplitSummary(); },
    }, 'Remove'));
  row.addEventListener('input', updateSplitSummary);
  ui.splitRows.append(row);
  updateSplitSummary();
  row.querySelector('input').focus();
}
ui.addCollaborator.addEventListener('click', () => addSplitRow());

/** The split as `[[address, permill]]`; throws a readable error. */
function readSplit() {
  const split = [];
  for (const row of ui.splitRows.querySelectorAll('.split-row')) {
    const address = row.querySelector('.split-account').value.trim();
    const percent = row.querySelector('.split-share').value.trim();
    if (!address && !percent) continue;
    try {
      api.createType('AccountId32', address);
    } catch {
      throw new Error(`“${address}” is not an account address`);
    }
    const share = Number(percent);
    if (!Number.isFinite(share) || share <= 0 || share > 100) throw new Error('each share must be above 0 and at most 100 %');
    if (split.some(([a]) => a === address)) throw new Error('each collaborator may appear once');
    split.push([address, Math.round(share * 10_000)]);
  }
  const total = split.reduce((t, [, p]) => t + p, 0);
  if (total > 1_000_000) throw new Error('the shares add up to more than 100 %');
  return split;
}

function updateSplitSummary() {
  try {
    const split = readSplit();
    const total = split.reduce((t, [, p]) => t + p, 0);
    ui.splitSummary.textContent = split.length
      ? `Collaborators: ${(total / 10_000).toFixed(4).replace(/\.?0+$/, '')} %; you keep ${((1_000_000 - total) / 10_000).toFixed(4).replace(/\.?0+$/, '')} % (and every rounding remainder).`
      : 'No collaborator: you keep everything after the platform fee.';
  } catch (e) {
    ui.splitSummary.textContent = errorText(e);
  }
}
updateSplitSummary();

// ---- registration ----
ui.registerForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  withBusy(ui.register, async () => {
    if (!account) return setStatus(ui.registerStatus, 'Choose an account first.', 'error');
    let title; let price; let split; let tags;
    try {
      title = ui.title.value.trim();
      if (!title) throw new Error('give the stream a title');
      if (new TextEncoder().encode(title).length > 128) throw new Error('the title is too long');
      if (ui.category.value === '') throw new Error('choose a category');
      price = parseUnits(ui.price.value);
      tags = ui.tags.value.split(',').map((t) => t.trim()).filter(Boolean);
      if (tags.length > 8) throw new Error('at most 8 tags');
      // The sidecar this stream names serves it only on its relaying terms.
      split = applyRelayerTerms({
        split: readSplit(),
        price,
        relayer: config.file?.relayer ?? null,
        terms: config.file?.relayer_terms,
        same: (a, b) => api.createType('AccountId32', a).eq(api.createType('AccountId32', b)),
      });
    } catch (e) {
      return setStatus(ui.registerStatus, errorText(e), 'error');
    }
    try {
      // The sidecar's relayer may close this stream's sessions at once, so viewers who leave are
      // refunded within a few blocks instead of after the settlement window.
      const relayer = config.file?.relayer ?? null;
      // Viewers spread over this sidecar and its edges (docs/SIDECAR.md, "Scaling out").
      const endpoint = streamEndpointFor(sidecarUrl, config.file?.edge_urls);
      const tx = api.tx.streams.createStream(title, ui.description.value.trim(), Number(ui.category.value), tags, price,
        endpoint, relayer);
      const { events } = await chain.send(tx, account, (s) => setStatus(ui.registerStatus, `Registering: ${s}`, 'busy'));
      const created = chain.findEvent(events, 'streams', 'StreamCreated');
      const id = created.data[0].toNumber();
      if (split.length) {
        await chain.send(api.tx.streams.setSplit(id, split), account,
          (s) => setStatus(ui.registerStatus, `Stream #${id} registered; setting the revenue split: ${s}`, 'busy'));
      }
      setStatus(ui.registerStatus, `Stream #${id} registered${split.length ? ' with its revenue split' : ''}. It is in the studio below.`, 'ok');
      ui.registerStatus.dataset.streamId = String(id);
      ui.registerForm.reset();
      await refreshCategories();
      ui.splitRows.replaceChildren();
      updateSplitSummary();
      updatePriceHint();
      await refreshMyStreams();
      await selectStream(id);
    } catch (e) {
      setStatus(ui.registerStatus, `Registration failed: ${errorText(e)}`, 'error');
    }
  });
});

// ---- my streams ----
async function refreshMyStreams() {
  if (!account) {
    ui.myStreams.replaceChildren();
    ui.myStreamsStatus.textContent = 'Choose an account to see its streams.';
    return;
  }
  myStreams = (await chain.streamsByCreator(account.address)).sort((a, b) => b.id - a.id);
  ui.myStreamsStatus.textContent = myStreams.length ? '' : 'No stream yet: register one below.';
  ui.myStreams.replaceChildren(...myStreams.map((s) => h('li', { dataset: { streamId: String(s.id), status: s.status } },
    h('span', { class: `badge ${s.status === 'Live' ? 'live' : ''}` }, s.status), ' ',
    h('strong', {}, s.title), ` (#${s.id}) · ${formatBalance(BigInt(s.pricePerSecond))}/s · ${s.currentViewers} watching `,
    s.status !== 'Ended'
      ? h('button', { type: 'button', class: 'secondary', onclick: () => selectStream(s.id), 'aria-label': `Open ${s.title} in the studio` }, 'Open in studio')
      : replayControls(s))));
}

// ---- replays of ended streams ----
/**
 * An ended stream's replay: offered at a price per second (a session opened on the ended stream
 * pays it, per second watched, as live), withdrawn, and its recordings deleted from the sidecar.
 */
function replayControls(s) {
  const status = h('span', { class: 'replay-status', role: 'status' },
    s.replayPrice != null ? `Replay offered at ${formatBalance(BigInt(s.replayPrice))}/s. ` : 'No replay offered. ');
  const price = h('input', {
    type: 'text', inputmode: 'decimal', size: 8, class: 'replay-price', value: s.replayPrice != null ? formatUnits(BigInt(s.replayPrice)) : '',
    'aria-label': `Replay price of ${s.title}, ${tokenSymbol()} per second`,
  });
  const offer = async (value) => {
    const what = value === null ? 'Withdrawing the replay' : 'Offering the replay';
    await chain.send(api.tx.streams.setReplayOffer(s.id, value), account, (x) => { status.textContent = `${what}: ${x}`; });
    await refreshMyStreams();
  };
  const act = (button, work) => withBusy(button, async () => {
    try {
      await work();
    } catch (e) {
      status.textContent = `Failed: ${errorText(e)} `;
    }
  });
  const offerButton = h('button', { type: 'button', class: 'secondary replay-offer', 'aria-label': `Offer the replay of ${s.title}` }, 'Offer replay');
  offerButton.onclick = () => act(offerButton, () => offer(parseUnits(price.value)));
  const withdrawButton = h('button', { type: 'button', class: 'secondary replay-withdraw', disabled: s.replayPrice == null, 'aria-label': `Withdraw the replay of ${s.title}` }, 'Withdraw');
  withdrawButton.onclick = () => act(withdrawButton, () => offer(null));
  const deleteButton = h('button', { type: 'button', class: 'danger replay-delete', 'aria-label': `Delete the recordings of ${s.title}` }, 'Delete recordings');
  deleteButton.onclick = () => act(deleteButton, async () => {
    if (!window.confirm(`Delete the recordings of “${s.title}” from the sidecar? Its replay cannot be watched any more.`)) return;
    const c = await ensureClient();
    const reply = await c.request({ type: 'delete_replay', stream_id: s.id }, ['replay_deleted']);
    status.textContent = `${reply.files} recording(s) deleted. `;
  });
  return h('span', { class: 'replay' }, status, price, ' ', offerButton, ' ', withdrawButton, ' ', deleteButton);
}

// ---- studio ----
function renderStudioMeta() {
  if (!selected) return;
  ui.studioHeading.textContent = `Studio: ${selected.title} (#${selected.id})`;
  const split = selected.collaborators?.length
    ? ` · split: ${selected.collaborators.map(([a, p]) => `${shortAddress(a)} ${p / 10_000} %`).join(', ')}`
    : '';
  ui.studioMeta.replaceChildren(
    h('span', { id: 'studio-stream-status', class: `badge ${selected.status === 'Live' ? 'live' : ''}`, dataset: { status: selected.status } }, selected.status),
    ` ${categories.get(selected.category) ?? `category ${selected.category}`} · ${formatBalance(BigInt(selected.pricePerSecond))} per second${split}`);
  ui.goLive.disabled = selected.status === 'Ended';
  ui.endStream.disabled = selected.status === 'Ended';
  ui.goLive.textContent = selected.status === 'Live' ? (joinedStream === selected.id ? 'Re-publish' : 'Resume publishing') : 'Go live';
}

async function selectStream(id) {
  if (selected?.id === id) return;
  await stopPublishing({ leaveRoom: true });
  selected = await chain.stream(id);
  ui.studio.hidden = false;
  ui.studio.dataset.streamId = String(id);
  ui.whipCredentials.hidden = true;
  setStatus(ui.whipStatus, '', 'info');
  setStatus(ui.studioStatus, '', 'info');
  renderStudioMeta();
  if (unsubStream) unsubStream();
  unsubStream = await chain.subscribeStream(id, (s) => {
    if (!selected || selected.id !== id) return;
    selected = { ...selected, status: s.status, currentViewers: s.currentViewers };
    ui.chainTotals.textContent = `On chain: ${s.currentViewers} open session(s), ${s.totalSeconds} s settled, ${formatBalance(BigInt(s.totalEarned))} settled in total.`;
    ui.chainTotals.dataset.totalSeconds = String(s.totalSeconds);
    ui.chainTotals.dataset.totalEarned = s.totalEarned;
    renderStudioMeta();
  });
  await enumerateDevices();
  ui.studio.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

// ---- devices ----
async function enumerateDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) {
    setStatus(ui.deviceStatus, 'This browser cannot list cameras and microphones.', 'error');
    return;
  }
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (select, kind, label) => {
    const prev = select.value;
    const list = devices.filter((d) => d.kind === kind);
    select.replaceChildren(...(list.length
      ? list.map((d, i) => h('option', { value: d.deviceId }, d.label || `${label} ${i + 1}`))
      : [h('option', { value: '' }, `no ${label.toLowerCase()} found`)]));
    if (prev && list.some((d) => d.deviceId === prev)) select.value = prev;
  };
  fill(ui.camera, 'videoinput', 'Camera');
  fill(ui.microphone, 'audioinput', 'Microphone');
}
navigator.mediaDevices?.addEventListener?.('devicechange', enumerateDevices);

async function openDevices() {
  if (localStream) for (const t of localStream.getTracks()) t.stop();
  const constraints = {
    video: ui.camera.value ? { deviceId: { exact: ui.camera.value } } : true,
    audio: ui.microphone.value ? { deviceId: { exact: ui.microphone.value } } : true,
  };
  localStream = await navigator.mediaDevices.getUserMedia(constraints);
  ui.previewVideo.srcObject = localStream;
  await ui.previewVideo.play().catch(() => {});
  await enumerateDevices(); // labels are only known once permission is given
  const v = localStream.getVideoTracks()[0];
  const a = localStream.getAudioTracks()[0];
  setStatus(ui.deviceStatus, `Preview: ${v?.label ?? 'no camera'} / ${a?.label ?? 'no microphone'}.`, 'ok');
  ui.previewVideo.dataset.previewing = 'true';
  return localStream;
}

ui.preview.addEventListener('click', () => withBusy(ui.preview, async () => {
  try {
    await openDevices();
    if (media && !['unsupported', 'unavailable'].includes(media.state) && client?.open) await media.publish(localStream);
  } catch (e) {
    setStatus(ui.deviceStatus, `Camera/microphone: ${errorText(e)}`, 'error');
  }
}));
for (const select of [ui.camera, ui.microphone]) {
  select.addEventListener('change', () => {
    if (localStream) ui.preview.click();
  });
}

// ---- sidecar room ----
async function ensureClient() {
  if (client?.open) return client;
  setStatus(ui.studioStatus, `Signing in to the sidecar at ${sidecarUrl}…`, 'busy');
  const c = new SidecarClient(sidecarUrl);
  await c.connect(accountLogin(account), { genesis: chain.genesis });
  client = c;
  joinedStream = null;
  c.on('stats', (s) => {
    if (s.stream_id !== selected?.id) return;
    ui.statViewers.textContent = String(s.viewers);
    ui.statViewers.dataset.value = String(s.viewers);
    ui.statSeconds.textContent = `${s.seconds_watched} s`;
    ui.statSeconds.dataset.value = String(s.seconds_watched);
    ui.statOwed.textContent = formatBalance(BigInt(s.owed));
    ui.statOwed.dataset.plancks = s.owed;
    ui.statSettled.textContent = formatBalance(BigInt(s.settled));
    ui.statSettled.dataset.plancks = s.settled;
  });
  c.on('revoked', (m) => {
    joinedStream = null;
    setStatus(ui.studioStatus, m.reason === 'stream_ended' ? 'The stream has ended.' : `Removed from the room: ${m.reason}`, 'info');
    stopPublishing({ leaveRoom: false });
  });
  c.on('error', (e) => {
    if (e.request === 'publish' && e.code === 'forbidden') {
      setStatus(ui.studioStatus, 'Another tab or device took over publishing this stream.', 'error');
      joinedStream = null;
      stopPublishing({ leaveRoom: false });
    }
  });
  c.on('close', () => {
    if (client !== c) return;
    client = null;
    const wasLive = joinedStream !== null;
    joinedStream = null;
    ui.chatInput.disabled = true;
    ui.chatSend.disabled = true;
    if (wasLive) setStatus(ui.studioStatus, 'Lost the connection to the sidecar — click “Resume publishing”.', 'error');
    renderStudioMeta();
  });
  return c;
}

const chat = new ChatView({
  log: ui.chatLog,
  status: ui.chatStatus,
  me: () => account?.address,
  creator: null,
  moderation: {
    onDelete(id) {
      try {
        client.send({ type: 'delete_chat', id });
      } catch (e) {
        setStatus(ui.chatStatus, errorText(e), 'error');
      }
    },
    async onBan(viewer, button) {
      if (!window.confirm(`Ban ${viewer} from all your streams? They leave the room at once and cannot open new sessions.`)) return;
      if (button) button.disabled = true;
      try {
        await chain.send(api.tx.streams.banViewer(viewer), account, (s) => setStatus(ui.chatStatus, `Banning ${shortAddress(viewer)}: ${s}`, 'busy'));
        setStatus(ui.chatStatus, `${shortAddress(viewer)} is banned from your streams.`, 'ok');
        ui.chatStatus.dataset.banned = viewer;
      } catch (e) {
        setStatus(ui.chatStatus, `Ban failed: ${errorText(e)}`, 'error');
        if (button) button.disabled = false;
      }
    },
  },
});

ui.chatForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text) return;
  try {
    chat.send(text);
    ui.chatInput.value = '';
  } catch (e) {
    setStatus(ui.chatStatus, errorText(e), 'error');
  }
});

function setPublishMedia(state, detail) {
  ui.mediaStatus.dataset.state = state;
  ui.mediaStatus.textContent = mediaStateText(state, detail, {
    connected: 'Media: publishing to the media server.',
    paused: 'Media: paused.',
  });
}

/** Publishes the camera over `c`; `ice`: the TURN credentials of its `joined`. */
async function startBrowserMedia(c, ice) {
  media?.close({ notify: false });
  media = new MediaSession(c, setPublishMedia, { ice });
  const stream = localStream ?? await openDevices();
  try {
    await media.publish(stream);
  } catch (e) {
    if (!(e instanceof MediaUnsupported || e instanceof MediaUnavailable)) throw e;
    return;
  }
  clearInterval(outboundTimer);
  outboundTimer = setInterval(async () => {
    const s = await media?.outboundVideo().catch(() => null);
    if (s) ui.mediaStatus.dataset.framesEncoded = String(s.framesEncoded);
  }, 1000);
}

ui.goLive.addEventListener('click', () => withBusy([ui.goLive, ui.endStream], async () => {
  if (!account || !selected) return;
  try {
    if (selected.status === 'Scheduled') {
      await chain.send(api.tx.streams.goLive(selected.id), account, (s) => setStatus(ui.studioStatus, `Going live on chain: ${s}`, 'busy'));
      selected = { ...selected, status: 'Live' };
      renderStudioMeta();
    }
    const c = await ensureClient();
    setStatus(ui.studioStatus, 'Joining the room as publisher…', 'busy');
    const joined = await c.request({ type: 'publish', stream_id: selected.id }, ['joined']);
    joinedStream = selected.id;
    chat.creator = account.address;
    chat.attach(c);
    ui.chatInput.disabled = false;
    ui.chatSend.disabled = false;
    setStatus(ui.chatStatus, '', 'info');
    setStatus(ui.studioStatus, `You are live: stream #${selected.id}.`, 'ok');
    ui.studioStatus.dataset.live = 'true';
    renderStudioMeta();
    if (ui.sendBrowserMedia.checked) {
      await startBrowserMedia(c, iceFromJoined(joined));
    } else {
      ui.mediaStatus.dataset.state = 'idle';
      ui.mediaStatus.textContent = 'Media: publish from OBS (WHIP) with the credentials below.';
    }
  } catch (e) {
    setStatus(ui.studioStatus, `Going live failed: ${errorText(e)}`, 'error');
  }
}));

async function stopPublishing({ leaveRoom }) {
  clearInterval(outboundTimer);
  media?.close();
  media = null;
  if (leaveRoom && client) {
    try {
      if (client.open && joinedStream !== null) client.send({ type: 'leave' });
    } catch {
      // gone
    }
    client.close();
    client = null;
    joinedStream = null;
  }
  chat.detach();
  ui.chatInput.disabled = true;
  ui.chatSend.disabled = true;
  ui.studioStatus.dataset.live = 'false';
}

ui.endStream.addEventListener('click', () => withBusy([ui.goLive, ui.endStream], async () => {
  if (!account || !selected) return;
  if (!window.confirm(`End “${selected.title}”? Viewers are settled and refunded; the stream cannot go live again.`)) return;
  try {
    await stopPublishing({ leaveRoom: true });
    if (localStream) for (const t of localStream.getTracks()) t.stop();
    localStream = null;
    ui.previewVideo.srcObject = null;
    await chain.send(api.tx.streams.endStream(selected.id), account, (s) => setStatus(ui.studioStatus, `Ending the stream: ${s}`, 'busy'));
    selected = { ...selected, status: 'Ended' };
    renderStudioMeta();
    setStatus(ui.studioStatus, `Stream #${selected.id} ended.`, 'ok');
    await refreshMyStreams();
  } catch (e) {
    setStatus(ui.studioStatus, `Ending failed: ${errorText(e)}`, 'error');
  }
}));

// ---- WHIP (OBS) ----
/** Fetches OBS credentials for the selected stream; `rotate` revokes every earlier token first. */
async function fetchWhipCredentials(rotate) {
  if (!account || !selected) return;
  try {
    const c = await ensureClient();
    const reply = await c.request({ type: 'publish_token', stream_id: selected.id, rotate }, ['publish_token']);
    ui.whipUrl.value = new URL(reply.whip_url, sidecarHttpOrigin(sidecarUrl)).toString();
    ui.whipBearer.value = reply.token;
    ui.whipCredentials.hidden = false;
    const until = new Date(reply.expires_at * 1000).toLocaleString();
    setStatus(ui.whipStatus, `${rotate ? 'Earlier tokens are revoked. ' : ''}Paste these into OBS before ${until}. `
      + 'Keep the token secret: it lets anyone publish to this stream while no one else does.', 'ok');
    ui.whipStatus.dataset.expiresAt = String(reply.expires_at);
  } catch (e) {
    const unsupported = e instanceof SidecarError && e.code === 'unknown_type';
    setStatus(ui.whipStatus, unsupported
      ? 'This sidecar does not support WHIP yet (publish_token: unknown_type).'
      : `Cannot get OBS credentials: ${errorText(e)}`, 'error');
    ui.whipStatus.dataset.unsupported = String(unsupported);
  }
}
ui.whipToken.addEventListener('click', () => withBusy(ui.whipToken, () => fetchWhipCredentials(false)));
byId('whip-rotate').addEventListener('click', () => withBusy(byId('whip-rotate'), () => fetchWhipCredentials(true)));
byId('copy-whip-url').addEventListener('click', async () => {
  const ok = await copyText(ui.whipUrl.value, ui.whipUrl);
  setStatus(ui.whipStatus, ok ? 'Server URL copied.' : 'Select the URL and copy it.', ok ? 'ok' : 'error');
});
byId('copy-whip-token').addEventListener('click', async () => {
  const ok = await copyText(ui.whipBearer.value, null);
  setStatus(ui.whipStatus, ok ? 'Bearer token copied.' : 'Click “Show”, then select and copy the token.', ok ? 'ok' : 'error');
});
byId('show-whip-token').addEventListener('click', (ev) => {
  const shown = ui.whipBearer.type === 'text';
  ui.whipBearer.type = shown ? 'password' : 'text';
  ev.currentTarget.textContent = shown ? 'Show' : 'Hide';
  ev.currentTarget.setAttribute('aria-pressed', String(!shown));
});

// ---- account ----
let unsubEarnings = null;
async function onAccount(a) {
  if (account && a?.id !== account.id) {
    await stopPublishing({ leaveRoom: true });
    selected = null;
    ui.studio.hidden = true;
  }
  account = a;
  if (unsubEarnings) unsubEarnings();
  unsubEarnings = null;
  ui.lifetime.textContent = '—';
  await refreshMyStreams();
  if (!a) return;
  const update = async () => {
    const e = await chain.earnings(a.address).catch(() => null);
    if (e !== null && account?.id === a.id) {
      ui.lifetime.textContent = formatBalance(BigInt(e));
      ui.lifetime.dataset.plancks = e;
    }
  };
  await update();
  let n = 0;
  unsubEarnings = await chain.subscribeHeads(() => {
    update();
    if (++n % 3 === 0) refreshMyStreams();
  });
}

await refreshCategories();
await setupDevCategory();
await accountPicker(byId('account-picker'), { chain, dev, storageKey: 'vilokanam.creator.account', onChange: onAccount });
window.addEventListener('pagehide', () => {
  stopPublishing({ leaveRoom: true });
});
window.vilokanam = {
  get media() { return media; },
  get client() { return client; },
  get stream() { return selected; },
};
document.body.dataset.pageReady = 'true';
