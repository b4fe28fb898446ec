// WebRTC with the sidecar's SFU: one `media_offer` → `media_answer` exchange over the room's
// WebSocket. The SFU is ICE-lite with its host candidate in the answer, so no candidates are
// trickled. The creator sends audio+video (send-only); a viewer receives them (recv-only).
//
// Where UDP to the SFU is blocked, media goes through the sidecar's TURN relay: `joined` carries
// time-limited credentials (`ice_servers`, `ice_expires_at`), renewed with `ice_servers` before a
// new connection would use them stale (a TURN port keeps the credentials it was made with).
//
// A sidecar without media support answers `media_offer` with `unknown_type`: that is reported as
// a `MediaUnsupported` error so the pages can say so and keep working (chat, vouchers).

import { SidecarError } from '@vilokanam/sdk';

export class MediaUnsupported extends Error {
  constructor() {
    super('this sidecar does not relay media yet (media_offer: unknown_type)');
    this.name = 'MediaUnsupported';
  }
}

/** The sidecar knows `media_offer` but runs without a media server (`media_unavailable`). */
export class MediaUnavailable extends Error {
  constructor(message) {
    super(message || 'the sidecar runs without a media server');
    this.name = 'MediaUnavailable';
  }
}

/** Credentials this close to their expiry (seconds) are renewed before a new connection. */
const ICE_RENEW_MARGIN_S = 60;

/** The ICE option of `MediaSession` from a `joined` message (no TURN: no servers, no expiry). */
export function iceFromJoined(joined) {
  return { servers: joined?.ice_servers ?? [], expiresAt: joined?.ice_expires_at ?? null };
}

/** A `route()` as text: `relay/udp`, `relay/tcp`, `host`, `srflx`…, or '' when unknown. */
export function routeLabel(route) {
  if (!route) return '';
  return route.relayProtocol ? `${route.candidateType}/${route.relayProtocol}` : route.candidateType;
}

/** Sends the offer of `pc`; resolves to the SDP answer. */
async function requestAnswer(client, pc) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  try {
    const answer = await client.request({ type: 'media_offer', sdp: pc.localDescription.sdp }, ['media_answer'], {
      timeoutMs: 20000,
    });
    return answer.sdp;
  } catch (e) {
    if (e instanceof SidecarError && e.code === 'unknown_type') throw new MediaUnsupported();
    if (e instanceof SidecarError && e.code === 'media_unavailable') throw new MediaUnavailable(e.message);
    throw e;
  }
}

/**
 * A media session over `client` (joined to a room). `onState(state, detail)` receives
 * `negotiating`, `connected`, `paused`, `closed`, `failed`, `unsupported` (no `media_offer` in
 * this sidecar), `unavailable` (no media server running) — and the server's `media_state`
 * reason as detail. Options: `ice` (`{servers, expiresAt}`, see `iceFromJoined`; none without)
 * and `iceTransportPolicy` (`'all'`, or `'relay'`: through a TURN relay only).
 */
export class MediaSession {
  constructor(client, onState, { ice = null, iceTransportPolicy = 'all' } = {}) {
    this.client = client;
    this.onState = onState ?? (() => {});
    this.ice = ice ? { servers: ice.servers ?? [], expiresAt: ice.expiresAt ?? null } : null;
    this.iceTransportPolicy = iceTransportPolicy;
    this.pc = null;
    this.state = 'idle';
    this.closed = false;
    // The server closes the previous media of the connection (`replaced`) before it answers a
    // new offer: a `media_state` that arrives before this session's answer is not about it.
    this.answered = false;
    this.offServer = client.on('media_state', (msg) => {
      if (!this.answered) return;
      // `resumed` (after `paused`): media flows again.
      this.setState(msg.state === 'resumed' ? 'connected' : msg.state, msg.reason ?? null);
      if (msg.state === 'closed') this.teardown();
    });
  }

  setState(state, detail = null) {
    this.state = state;
    this.onState(state, detail);
  }

  /** The ICE servers for a new connection: the held ones, renewed first when about to expire. */
  async iceServers() {
    if (!this.ice) return [];
    const { expiresAt } = this.ice;
    if (expiresAt !== null && expiresAt - ICE_RENEW_MARGIN_S <= Date.now() / 1000) {
      try {
        const reply = await this.client.request({ type: 'ice_servers' }, ['ice_servers'], { timeoutMs: 10000 });
        this.ice = { servers: reply.ice_servers ?? [], expiresAt: reply.ice_expires_at ?? null };
      } catch (e) {
        // A sidecar that cannot renew has no TURN for us. Otherwise keep the held ones: they may
        // still work for a while, and without them only the relay-only policy fails.
        if (e instanceof SidecarError && e.code === 'unknown_type') this.ice = { servers: [], expiresAt: null };
      }
    }
    return this.ice.servers;
  }

  async newPeerConnection() {
    const iceServers = await this.iceServers();
    if (this.closed) throw new Error('the media session was closed');
    this.teardown();
    const pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers, iceTransportPolicy: this.iceTransportPolicy,
    });
    this.pc = pc;
    pc.addEventListener('connectionstatechange', () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === 'connected') this.setState('connected');
      if (pc.connectionState === 'failed') this.setState('failed', 'the WebRTC connection failed');
    });
    return pc;
  }

  /** Creator: sends the tracks of `stream` (send-only). */
  async publish(stream) {
    const pc = await this.newPeerConnection();
    for (const track of stream.getTracks()) {
      pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
    await this.negotiate(pc);
  }

  /** Viewer: receives audio and video; `onTrack(MediaStream)` when they arrive. */
  async receive(onTrack) {
    const pc = await this.newPeerConnection();
    const stream = new MediaStream();
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addEventListener('track', (ev) => {
      stream.addTrack(ev.track);
      onTrack(ev.streams?.[0] ?? stream);
    });
    await this.negotiate(pc);
  }

  async negotiate(pc) {
    this.setState('negotiating');
    this.answered = false;
    try {
      const sdp = await requestAnswer(this.client, pc);
      this.answered = true;
      await pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (e) {
      this.teardown();
      if (e instanceof MediaUnsupported) this.setState('unsupported', e.message);
      else if (e instanceof MediaUnavailable) this.setState('unavailable', e.message);
      else this.setState('failed', e.message);
      throw e;
    }
  }

  /** Inbound video counters for a viewer: `{framesDecoded, frameWidth, frameHeight}`. */
  async inboundVideo() {
    if (!this.pc) return null;
    const stats = await this.pc.getStats();
    for (const s of stats.values()) {
      if (s.type === 'inbound-rtp' && (s.kind === 'video' || s.mediaType === 'video')) {
        return { framesDecoded: s.framesDecoded ?? 0, frameWidth: s.frameWidth ?? 0, frameHeight: s.frameHeight ?? 0 };
      }
    }
    return { framesDecoded: 0, frameWidth: 0, frameHeight: 0 };
  }

  /** Outbound video counters for the creator: `{framesEncoded, bytesSent}`. */
  async outboundVideo() {
    if (!this.pc) return null;
    const stats = await this.pc.getStats();
    for (const s of stats.values()) {
      if (s.type === 'outbound-rtp' && (s.kind === 'video' || s.mediaType === 'video')) {
        return { framesEncoded: s.framesEncoded ?? 0, bytesSent: s.bytesSent ?? 0 };
      }
    }
    return { framesEncoded: 0, bytesSent: 0 };
  }

  /**
   * How media flows: the local candidate of the selected pair, `{candidateType}` (`host`,
   * `srflx`, `prflx`) or `{candidateType: 'relay', relayProtocol}` (`udp`, `tcp`, `tls`: how the
   * browser reaches the TURN server); null before a pair is selected.
   */
  async route() {
    if (!this.pc) return null;
    const stats = await this.pc.getStats();
    let pair = null;
    for (const s of stats.values()) {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    }
    // Browsers without `selectedCandidatePairId`: the nominated pair that works.
    if (!pair) pair = [...stats.values()].find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
    const local = pair && stats.get(pair.localCandidateId);
    if (!local?.candidateType) return null;
    return local.candidateType === 'relay'
      ? { candidateType: 'relay', relayProtocol: local.relayProtocol ?? null }
      : { candidateType: local.candidateType };
  }

  teardown() {
    if (this.pc) {
      try {
        this.pc.close();
      } catch {
        // closed already
      }
      this.pc = null;
    }
  }

  /** Ends the media session (tells the server, if connected) and stops listening. */
  close({ notify = true } = {}) {
    this.closed = true;
    if (notify && this.pc && this.client.open) {
      try {
        this.client.send({ type: 'media_close' });
      } catch {
        // connection gone
      }
    }
    this.teardown();
    this.offServer();
    if (this.state !== 'unsupported' && this.state !== 'unavailable') this.setState('closed');
  }
}

/**
 * The status line for a media state, shared by the pages; `own` gives a page's wording for
 * some states (e.g. what `connected` or `paused` means to a creator or a viewer).
 */
export function mediaStateText(state, detail, own = {}) {
  const texts = {
    negotiating: 'Media: connecting to the media server…',
    closed: `Media: closed${detail ? ` (${detail})` : ''}.`,
    failed: `Media: failed${detail ? ` (${detail})` : ''}.`,
    // media_offer answered with unknown_type: a sidecar of another version.
    unsupported: 'Media: this sidecar does not speak the media protocol (another version?).',
    unavailable: 'Media: the sidecar\'s media server is not running.',
    ...own,
  };
  return texts[state] ?? `Media: ${state}`;
}

