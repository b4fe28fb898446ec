// Watching with WHEP, plus the vouchers that keep it playing. The sidecar forwards media to a
// viewer only while its vouchers arrive (it pauses one whose last voucher is older than
// `voucher_grace_ms` of /config.json), so a WHEP player alone stops after the grace: this one
// also signs a voucher a second and posts it to `POST /vouchers` with the same watch token.
//
// TURN: the sidecar's `watch_token` reply carries `ice_servers` (give them as `iceServers`): the
// connection needs them before its offer. WHIP/WHEP endpoints also send them in the `201`'s
// `Link` headers (RFC 9725 section 4.6), after the offer was made; `parseIceServerLinks` reads
// those (e.g. for the next connection of a client that only speaks WHEP).

import { signVoucher, voucherBody } from './messages.js';

/** Skips optional whitespace in `s` from `i`. */
function skipSpace(s, i) {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i += 1;
  return i;
}

/** Reads an RFC 9110 quoted-string at `s[i] === '"'`: `[value, next index]`, or null if unterminated. */
function quoted(s, i) {
  let value = '';
  for (let j = i + 1; j < s.length; j += 1) {
    if (s[j] === '\\' && j + 1 < s.length) value += s[++j];
    else if (s[j] === '"') return [value, j + 1];
    else value += s[j];
  }
  return null;
}

/**
 * The links of a `Link` header value (RFC 8288: `<url>; name=value; name="quoted, value"`,
 * several joined by commas): `[{url, params}]`, params by lower-case name, the first of each
 * name kept. A link that does not parse ends the list (what follows it cannot be trusted).
 */
function parseLinks(value) {
  const links = [];
  const s = String(value ?? '');
  let i = 0;
  for (;;) {
    while (i < s.length && (s[i] === ',' || s[i] === ' ' || s[i] === '\t')) i += 1;
    if (i >= s.length || s[i] !== '<') return links;
    const end = s.indexOf('>', i);
    if (end < 0) return links;
    const link = { url: s.slice(i + 1, end).trim(), params: {} };
    i = skipSpace(s, end + 1);
    while (s[i] === ';') {
      i = skipSpace(s, i + 1);
      const name = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(s.slice(i))?.[0];
      if (!name) return links;
      i = skipSpace(s, i + name.length);
      let param = '';
      if (s[i] === '=') {
        i = skipSpace(s, i + 1);
        if (s[i] === '"') {
          const q = quoted(s, i);
          if (!q) return links;
          [param, i] = q;
        } else {
          param = /^[^,;\s]*/.exec(s.slice(i))[0];
          i += param.length;
        }
        i = skipSpace(s, i);
      }
      const key = name.toLowerCase();
      if (!(key in link.params)) link.params[key] = param;
    }
    if (i < s.length && s[i] !== ',') return links;
    links.push(link);
  }
}

/**
 * The ICE servers of RFC 9725 `Link` headers (a WHIP/WHEP `201 Created`): `headerValue` is one
 * value or several joined by commas (as `fetch()`'s `headers.get('link')` joins them). Only
 * `rel="ice-server"` links count; each becomes one RTCIceServer `{urls: [url], username?,
 * credential?}`. A TURN link without a password credential is left out (a browser would refuse
 * the whole configuration); anything unreadable gives `[]`.
 */
export function parseIceServerLinks(headerValue) {
  const servers = [];
  for (const { url, params } of parseLinks(headerValue)) {
    const rels = (params.rel ?? '').toLowerCase().split(/\s+/);
    if (!rels.includes('ice-server') || !/^(stuns?|turns?):/i.test(url)) continue;
    const server = { urls: [url] };
    if (/^turns?:/i.test(url)) {
      const type = params['credential-type'] ?? 'password';
      if (params.username === undefined || params.credential === undefined || type.toLowerCase() !== 'password') continue;
      server.username = params.username;
      server.credential = params.credential;
    }
    servers.push(server);
  }
  return servers;
}

/**
 * A WHEP session of one viewer. Options: `whepUrl` and `token` (from `SidecarClient.watchToken`,
 * resolved against the sidecar's origin), `sign(bytes) → signature` with the session's voucher
 * key, `genesis`, `sessionId`, `startSeconds` (the session's seconds already acknowledged),
 * `watchedSeconds()` (seconds watched so far in this player; by default, since media arrived),
 * `intervalMs` (1000), `iceServers` (the `ice_servers` of the `watch_token` reply; none by
 * default), `iceTransportPolicy` (`'all'`, or `'relay'`: through TURN only), and `fetch` /
 * `RTCPeerConnection` where the globals are not the ones to use.
 */
export class WhepPlayer {
  constructor(options) {
    this.options = { intervalMs: 1000, startSeconds: 0, iceServers: [], iceTransportPolicy: 'all', ...options };
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.Pc = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    this.pc = null;
    this.resource = null;
    this.timer = null;
    this.since = null;
    this.sent = this.options.startSeconds;
    this.lastError = null;
  }

  /** Offers to receive audio and video; resolves to the `RTCPeerConnection` once answered. */
  async start() {
    const { whepUrl, token, iceServers, iceTransportPolicy } = this.options;
    const pc = new this.Pc({ iceServers, iceTransportPolicy });
    this.pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addEventListener?.('track', () => { this.since ??= Date.now(); });
    await pc.setLocalDescription(await pc.createOffer());
    const response = await this.fetch(whepUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
      body: pc.localDescription.sdp,
    });
    if (response.status !== 201) {
      pc.close();
      throw new Error(`WHEP offer refused: ${response.status} ${await response.text()}`);
    }
    const location = response.headers.get('location');
    this.resource = location ? new URL(location, whepUrl).toString() : null;
    await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
    this.timer = setInterval(() => { this.tick().catch((e) => { this.lastError = e; }); }, this.options.intervalMs);
    return pc;
  }

  /** Seconds to claim now: what was acknowledged before plus what this player watched. */
  target() {
    const watched = this.options.watchedSeconds
      ? this.options.watchedSeconds()
      : (this.since === null ? 0 : Math.floor((Date.now() - this.since) / 1000));
    return this.options.startSeconds + watched;
  }

  /** Posts the voucher for `target()` when it is above the last one sent. */
  async tick() {
    const cumulativeSeconds = this.target();
    if (cumulativeSeconds <= this.sent) return null;
    const { sign, genesis, sessionId, whepUrl, token } = this.options;
    const voucher = await signVoucher(sign, { genesis, sessionId, cumulativeSeconds });
    const response = await this.fetch(new URL('/vouchers', whepUrl).toString(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(voucherBody(voucher)),
    });
    if (!response.ok) throw new Error(`voucher ${cumulativeSeconds} refused: ${response.status} ${await response.text()}`);
    this.sent = cumulativeSeconds;
    return response.json();
  }

  /** Stops the vouchers, ends the WHEP session (`DELETE`) and closes the connection. */
  async stop() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.resource) {
      await this.fetch(this.resource, { method: 'DELETE', headers: { Authorization: `Bearer ${this.options.token}` } })
        .catch(() => {});
    }
    this.pc?.close();
  }
}
