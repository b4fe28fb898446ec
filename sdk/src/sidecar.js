// A client of the sidecar's WebSocket protocol (docs/SIDECAR.md): challenge and login bound to
// the sidecar connected to, requests with their replies or errors, every pushed message as an
// event. Runs wherever a WebSocket global exists (browsers, Node.js 22+, or `ws` assigned to
// globalThis.WebSocket).

import { authPayload } from './payloads.js';
import { authMessage, closeMessage, heartbeatMessage } from './messages.js';

/** The HTTP(S) origin of a sidecar given by its WebSocket URL: the `audience` its logins name. */
export function sidecarHttpOrigin(sidecarUrl) {
  const url = new URL(sidecarUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  return url.origin;
}

/**
 * The sidecars a stream's on-chain `endpoint` names: its `ws://` and `wss://` URLs, separated by
 * spaces, the origin (where the creator publishes) first and then its edges (docs/SIDECAR.md,
 * "Scaling out"). Anything else in the field is ignored.
 */
export function streamEndpoints(endpoint) {
  return String(endpoint ?? '')
    .split(/\s+/)
    .filter((u) => /^wss?:\/\/[^\s]+$/i.test(u));
}

/**
 * The sidecar a viewer watches `endpoint`'s stream at: one of its sidecars, the same one for the
 * same `seed` (a page keeps a random seed, so a viewer stays on one sidecar across reloads while
 * viewers spread evenly), or `null` when the field names none. FNV-1a over the seed's UTF-8.
 */
export function pickEndpoint(endpoint, seed) {
  const urls = streamEndpoints(endpoint);
  if (urls.length === 0) return null;
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(String(seed))) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return urls[hash % urls.length];
}

/** An `error` message from the sidecar: `code` is e.g. `forbidden`, `unknown_type`. */
export class SidecarError extends Error {
  constructor(code, message, request) {
    super(`${code}: ${message}`);
    this.name = 'SidecarError';
    this.code = code;
    this.request = request;
  }
}

/**
 * Sign-in with an account (wallet or development key, `<Bytes>`-wrapped as wallets sign): what
 * creators use. `account`: `{address, crypto, signBytes(payload) → signature}`. A `login` turns
 * the challenge payload into the `auth` message's fields.
 */
export function accountLogin(account) {
  return async (payload) => ({
    account: account.address,
    crypto: account.crypto,
    encoding: 'wrapped',
    signature: await account.signBytes(payload),
  });
}

/**
 * Sign-in with the page key bound to session `sessionId` (`key`: `{publicKey, sign(bytes)}`):
 * the sidecar checks that the key is the session's voucher key and authenticates the connection
 * as the session's viewer — no wallet.
 */
export function sessionLogin(key, sessionId) {
  return async (payload) => ({
    account: key.publicKey,
    crypto: 'sr25519',
    encoding: 'raw',
    signature: await key.sign(payload),
    sessionId,
  });
}

/** Readable texts for the error codes a person may meet. */
export const ERROR_TEXT = {
  unauthenticated: 'not signed in to the sidecar',
  bad_signature: 'the signature did not verify',
  forbidden: 'not allowed',
  not_found: 'not found (the session or stream is not open)',
  not_in_room: 'not in the room',
  rate_limited: 'too many messages; slow down',
  stale: 'voucher not above the last acknowledged one',
  ahead_of_time: 'voucher ahead of the time watched',
  above_max: 'the escrowed seconds are used up',
  chain_unavailable: 'the sidecar cannot reach the chain; retrying',
  unknown_type: 'not supported by this sidecar',
};

/**
 * One WebSocket connection to the sidecar. Events (`on(type, fn)`): every server message by its
 * `type` (`chat`, `stats`, `revoked`, `media_state`, …), `*` for all of them, and `close`
 * ({code, reason}) when the connection ends.
 */
export class SidecarClient {
  constructor(url) {
    this.url = url;
    this.ws = null;
    this.listeners = new Map();
    this.pending = [];
    this.genesis = null;
    this.account = null;
    this.closed = false;
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  emit(type, value) {
    for (const fn of this.listeners.get(type) ?? []) {
      try {
        fn(value);
      } catch (e) {
        console.error(e);
      }
    }
  }

  /**
   * Opens the connection and answers the challenge with `login` (`accountLogin` or
   * `sessionLogin`) — unless the sidecar serves another chain than `genesis`, or its challenge
   * names another sidecar than the one connected to (a sidecar relaying another's nonce to log
   * in there as this page's account): nothing is signed then. Resolves to the `authenticated`
   * message.
   */
  async connect(login, { genesis, timeoutMs = 20000 } = {}) {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    const challenge = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the sidecar at ${this.url} did not answer`)), timeoutMs);
      ws.addEventListener('error', () => {
        clearTimeout(timer);
        reject(new Error(`cannot connect to the sidecar at ${this.url}`));
      }, { once: true });
      ws.addEventListener('close', () => {
        clearTimeout(timer);
        reject(new Error(`the sidecar at ${this.url} closed the connection`));
      }, { once: true });
      ws.addEventListener('message', (ev) => {
        clearTimeout(timer);
        try {
          const msg = JSON.parse(ev.data);
          if (msg.type === 'challenge') resolve(msg);
          else reject(new Error(`expected a challenge, got ${msg.type}`));
        } catch (e) {
          reject(e);
        }
      }, { once: true });
    });
    ws.addEventListener('message', (ev) => this.onMessage(ev));
    ws.addEventListener('close', (ev) => this.onClose(ev));
    this.genesis = challenge.genesis;
    if (challenge.genesis !== genesis) {
      this.close();
      throw new Error(`the sidecar at ${this.url} serves another chain (genesis ${challenge.genesis})`);
    }
    const audience = sidecarHttpOrigin(this.url);
    if (challenge.audience !== audience) {
      this.close();
      throw new Error(`refused to sign in: the sidecar at ${this.url} sent a challenge for `
        + `${JSON.stringify(challenge.audience ?? null)}, not ${audience}`);
    }
    const reply = await this.request(
      authMessage(await login(authPayload(challenge.genesis, audience, challenge.nonce))),
      ['authenticated'],
    );
    this.account = reply.account;
    return reply;
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (!this.open) throw new Error('the sidecar connection is closed');
    this.ws.send(JSON.stringify({ v: 1, ...message }));
  }

  /**
   * Sends `message` and resolves to the first reply whose type is in `replyTypes`; rejects with a
   * `SidecarError` when the server answers with an error for this request type.
   */
  request(message, replyTypes, { timeoutMs = 20000 } = {}) {
    return new Promise((resolve, reject) => {
      const entry = { request: message.type, replyTypes, resolve, reject };
      entry.timer = setTimeout(() => {
        this.pending = this.pending.filter((p) => p !== entry);
        reject(new Error(`no reply to ${message.type} from the sidecar`));
      }, timeoutMs);
      this.pending.push(entry);
      try {
        this.send(message);
      } catch (e) {
        clearTimeout(entry.timer);
        this.pending = this.pending.filter((p) => p !== entry);
        reject(e);
      }
    });
  }

  /**
   * Sends a voucher (`signVoucher`'s fields; by default signed raw by the session's voucher key).
   * Its `ack` or `error` (request `heartbeat`) arrives as an event: they are the sidecar's word,
   * for display only.
   */
  heartbeat(voucher) {
    this.send(heartbeatMessage(voucher));
  }

  /**
   * Hands a close intent to the sidecar, which relays it and settles; resolves to its `closing`
   * reply, rejects with its error or after `timeoutMs`.
   */
  closeSession(intent, { timeoutMs } = {}) {
    return this.request(closeMessage(intent), ['closing'], { timeoutMs });
  }

  /**
   * Joins `streamId` as the viewer of `sessionId`; resolves to `joined` (with TURN, its
   * `ice_servers` and `ice_expires_at` are for this member's media).
   */
  watch(streamId, sessionId, options) {
    return this.request({ type: 'watch', stream_id: Number(streamId), session_id: Number(sessionId) }, ['joined'], options);
  }

  /** Joins `streamId` as its publisher (the creator); resolves to `joined`. */
  publish(streamId, options) {
    return this.request({ type: 'publish', stream_id: Number(streamId) }, ['joined'], options);
  }

  /** Leaves the room. */
  leave() {
    this.send({ type: 'leave' });
  }

  /** Posts `text` to the room's chat (it comes back as a `chat` event). */
  chat(text) {
    this.send({ type: 'chat', text });
  }

  /**
   * A WHEP token for this viewer's session (in its room): `{token, whep_url, …}`; with a sidecar
   * that has TURN, also `ice_servers` (RTCIceServer objects, for `WhepPlayer`'s `iceServers`)
   * and `ice_expires_at` (unix seconds).
   */
  watchToken(options) {
    return this.request({ type: 'watch_token' }, ['watch_token'], options);
  }

  /**
   * A WHIP (OBS) token for the creator's stream; `rotate` revokes the earlier ones first. With
   * TURN, the reply also has `ice_servers` and `ice_expires_at`.
   */
  publishToken(streamId, { rotate = false, ...options } = {}) {
    return this.request({ type: 'publish_token', stream_id: Number(streamId), rotate }, ['publish_token'], options);
  }

  /**
   * Fresh TURN credentials for this member of a room (those of `joined` expire at its
   * `ice_expires_at`): `{ice_servers, ice_expires_at}`; `ice_servers: []` and `ice_expires_at: null`
   * when the sidecar has no TURN. Outside a room: `not_in_room`; an older sidecar: `unknown_type`.
   */
  iceServers(options) {
    return this.request({ type: 'ice_servers' }, ['ice_servers'], options);
  }

  onMessage(ev) {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (msg.type === 'error') {
      const i = this.pending.findIndex((p) => p.request === msg.request);
      if (i >= 0) {
        const [p] = this.pending.splice(i, 1);
        clearTimeout(p.timer);
        p.reject(new SidecarError(msg.code, msg.message, msg.request));
      }
    } else {
      const i = this.pending.findIndex((p) => p.replyTypes.includes(msg.type));
      if (i >= 0) {
        const [p] = this.pending.splice(i, 1);
        clearTimeout(p.timer);
        p.resolve(msg);
      }
    }
    this.emit(msg.type, msg);
    this.emit('*', msg);
  }

  onClose(ev) {
    this.closed = true;
    const err = new Error(`the sidecar connection closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
    for (const p of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending = [];
    this.emit('close', { code: ev.code, reason: ev.reason });
  }

  close() {
    this.closed = true;
    try {
      this.ws?.close(1000, 'bye');
    } catch {
      // already closed
    }
  }
}
