// WebRTC with the sidecar's SFU: one `media_offer` → `media_answer` exchange over the room's
// WebSocket. The SFU is ICE-lite with its host candidate in the answer, so no candidates are
// trickled. The creator sends audio+video (send-only); a viewer receives them (recv-only).
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

const PC_CONFIG = { bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers: [] };

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
 * reason as detail.
 */
export class MediaSession {
  constructor(client, onState) {
    this.client = client;
    this.onState = onState ?? (() => {});
    this.pc = null;
    this.state = 'idle';
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

  newPeerConnection() {
    this.teardown();
    const pc = new RTCPeerConnection(PC_CONFIG);
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
    const pc = this.newPeerConnection();
    for (const track of stream.getTracks()) {
      pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
    await this.negotiate(pc);
  }

  /** Viewer: receives audio and video; `onTrack(MediaStream)` when they arrive. */
  async receive(onTrack) {
    const pc = this.newPeerConnection();
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

