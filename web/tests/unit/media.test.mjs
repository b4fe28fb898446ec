// The media session's ICE configuration: TURN credentials from `joined`, renewed with
// `ice_servers` before a connection would use them within a minute of their expiry (an older
// sidecar's `unknown_type`: none), the relay-only policy, and the route read from getStats.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SidecarError } from '@vilokanam/sdk';
import { MediaSession, iceFromJoined, routeLabel } from '../../src/lib/media.js';

const now = () => Math.floor(Date.now() / 1000);
const SERVER = { urls: ['turn:127.0.0.1:3478?transport=udp'], username: 'u', credential: 'c' };
const FRESH = { urls: ['turn:127.0.0.1:3478?transport=tcp'], username: 'u2', credential: 'c2' };

/** A stand-in for `SidecarClient`: `reply(message)` answers each request (or throws). */
function fakeClient(reply) {
  return {
    open: true,
    requests: [],
    on: () => () => {},
    send() {},
    async request(message, replyTypes) {
      this.requests.push({ message, replyTypes });
      return reply(message);
    },
  };
}

/** RTCPeerConnection stand-in recording its configuration. */
class FakePc {
  constructor(config) { this.config = config; }
  addEventListener() {}
  close() {}
}

async function configOf(session) {
  globalThis.RTCPeerConnection = FakePc;
  try {
    return (await session.newPeerConnection()).config;
  } finally {
    delete globalThis.RTCPeerConnection;
  }
}

test('iceFromJoined: the joined fields, or no servers and no expiry without TURN', () => {
  assert.deepEqual(iceFromJoined({ type: 'joined', ice_servers: [SERVER], ice_expires_at: 123 }), { servers: [SERVER], expiresAt: 123 });
  assert.deepEqual(iceFromJoined({ type: 'joined' }), { servers: [], expiresAt: null });
});

test('credentials far from their expiry are used as they are, with the given policy', async () => {
  const client = fakeClient(() => assert.fail('no request expected'));
  const media = new MediaSession(client, null, { ice: { servers: [SERVER], expiresAt: now() + 3600 }, iceTransportPolicy: 'relay' });
  assert.deepEqual(await configOf(media), {
    bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers: [SERVER], iceTransportPolicy: 'relay',
  });
  // Without ICE options: no servers, every route allowed; nothing asked.
  assert.deepEqual(await configOf(new MediaSession(client, null)), {
    bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers: [], iceTransportPolicy: 'all',
  });
  assert.deepEqual(await configOf(new MediaSession(client, null, { ice: iceFromJoined({}) })), {
    bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers: [], iceTransportPolicy: 'all',
  });
  assert.equal(client.requests.length, 0);
});

test('credentials within a minute of their expiry are renewed with ice_servers, once', async () => {
  const expiresAt = now() + 3600;
  const client = fakeClient(() => ({ type: 'ice_servers', ice_servers: [FRESH], ice_expires_at: expiresAt }));
  const media = new MediaSession(client, null, { ice: { servers: [SERVER], expiresAt: now() + 30 } });
  assert.deepEqual((await configOf(media)).iceServers, [FRESH]);
  assert.deepEqual(client.requests, [{ message: { type: 'ice_servers' }, replyTypes: ['ice_servers'] }]);
  assert.deepEqual(media.ice, { servers: [FRESH], expiresAt });
  // The renewed ones are fresh: the next connection asks nothing.
  assert.deepEqual((await configOf(media)).iceServers, [FRESH]);
  assert.equal(client.requests.length, 1);
});

test('an older sidecar (unknown_type) means no servers; another failure keeps the held ones', async () => {
  const old = new MediaSession(fakeClient(() => { throw new SidecarError('unknown_type', 'no such type', 'ice_servers'); }),
    null, { ice: { servers: [SERVER], expiresAt: now() - 5 } });
  assert.deepEqual((await configOf(old)).iceServers, []);
  const flaky = new MediaSession(fakeClient(() => { throw new Error('no reply to ice_servers from the sidecar'); }),
    null, { ice: { servers: [SERVER], expiresAt: now() + 10 } });
  assert.deepEqual((await configOf(flaky)).iceServers, [SERVER]);
});

test('a session closed while renewing makes no connection', async () => {
  let release;
  const client = fakeClient(() => new Promise((r) => { release = r; }));
  const media = new MediaSession(client, null, { ice: { servers: [SERVER], expiresAt: now() } });
  globalThis.RTCPeerConnection = FakePc;
  try {
    const made = media.newPeerConnection();
    await new Promise((r) => setImmediate(r));
    media.close({ notify: false });
    release({ type: 'ice_servers', ice_servers: [FRESH], ice_expires_at: now() + 3600 });
    await assert.rejects(made, /closed/);
    assert.equal(media.pc, null);
  } finally {
    delete globalThis.RTCPeerConnection;
  }
});

/** A MediaSession whose connection reports `entries` (id → stats object) from getStats. */
function withStats(entries) {
  const media = new MediaSession(fakeClient(() => ({})), null);
  media.pc = { getStats: async () => new Map(Object.entries(entries).map(([id, s]) => [id, { id, ...s }])), close() {} };
  return media;
}

test('route: the selected pair\'s local candidate, relay with its protocol', async () => {
  const media = withStats({
    T: { type: 'transport', selectedCandidatePairId: 'P2' },
    P1: { type: 'candidate-pair', localCandidateId: 'L1', nominated: true, state: 'succeeded' },
    P2: { type: 'candidate-pair', localCandidateId: 'L2', nominated: true, state: 'succeeded' },
    L1: { type: 'local-candidate', candidateType: 'host' },
    L2: { type: 'local-candidate', candidateType: 'relay', relayProtocol: 'tcp' },
  });
  assert.deepEqual(await media.route(), { candidateType: 'relay', relayProtocol: 'tcp' });
  assert.equal(routeLabel(await media.route()), 'relay/tcp');
});

test('route: without selectedCandidatePairId, the nominated pair that succeeded; null before one', async () => {
  const media = withStats({
    T: { type: 'transport' },
    P1: { type: 'candidate-pair', localCandidateId: 'L1', nominated: false, state: 'succeeded' },
    P2: { type: 'candidate-pair', localCandidateId: 'L2', nominated: true, state: 'succeeded' },
    L1: { type: 'local-candidate', candidateType: 'relay', relayProtocol: 'udp' },
    L2: { type: 'local-candidate', candidateType: 'host' },
  });
  assert.deepEqual(await media.route(), { candidateType: 'host' });
  assert.equal(routeLabel(await media.route()), 'host');
  const early = withStats({ P1: { type: 'candidate-pair', localCandidateId: 'L1', nominated: false, state: 'in-progress' } });
  assert.equal(await early.route(), null);
  assert.equal(routeLabel(null), '');
  assert.equal(await new MediaSession(fakeClient(() => ({})), null).route(), null);
});
