// Watching with WHEP, plus the vouchers that keep it playing. The sidecar forwards media to a
// viewer only while its vouchers arrive (it pauses one whose last voucher is older than
// `voucher_grace_ms` of /config.json), so a WHEP player alone stops after the grace: this one
// also signs a voucher a second and posts it to `POST /vouchers` with the same watch token.

import { signVoucher, voucherBody } from './messages.js';

/**
 * A WHEP session of one viewer. Options: `whepUrl` and `token` (from `SidecarClient.watchToken`,
 * resolved against the sidecar's origin), `sign(bytes) → signature` with the session's voucher
 * key, `genesis`, `sessionId`, `startSeconds` (the session's seconds already acknowledged),
 * `watchedSeconds()` (seconds watched so far in this player; by default, since media arrived),
 * `intervalMs` (1000), and `fetch` / `RTCPeerConnection` where the globals are not the ones to use.
 */
export class WhepPlayer {
  constructor(options) {
    this.options = { intervalMs: 1000, startSeconds: 0, ...options };
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
    const { whepUrl, token } = this.options;
    const pc = new this.Pc();
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
