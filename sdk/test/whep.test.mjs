// The WHEP player: its offer, its vouchers (signed by the session's key, above the last one, with
// the watch token) and its teardown, against stand-ins for fetch and RTCPeerConnection.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex } from '@polkadot/util';
import { voucherPayload, WhepPlayer } from '../src/index.js';

const GENESIS = `0x${'ab'.repeat(32)}`;

class FakePc {
  constructor() { this.transceivers = []; this.closed = false; }
  addTransceiver(kind, init) { this.transceivers.push([kind, init.direction]); }
  addEventListener() {}
  async createOffer() { return { type: 'offer', sdp: 'v=0 offer' }; }
  async setLocalDescription(d) { this.localDescription = d; }
  async setRemoteDescription(d) { this.remoteDescription = d; }
  close() { this.closed = true; }
}

function fakeFetch(requests, { offerStatus = 201 } = {}) {
  return async (url, init) => {
    requests.push({ url: url.toString(), ...init });
    const respond = (status, body, headers = {}) => ({
      status, ok: status < 300,
      headers: { get: (n) => headers[n.toLowerCase()] ?? null },
      text: async () => body, json: async () => JSON.parse(body),
    });
    if (init.method === 'POST' && url.toString().includes('/whep/')) {
      return respond(offerStatus, 'v=0 answer', { location: '/whep/7/abc' });
    }
    if (init.method === 'POST') return respond(200, '{"session_id":42,"cumulative_seconds":1}');
    return respond(204, '');
  };
}

test('offers to receive, pays a voucher a second with the watch token, then ends the session', async () => {
  const requests = [];
  const signed = [];
  let watched = 0;
  const player = new WhepPlayer({
    whepUrl: 'http://127.0.0.1:7070/whep/7', token: 'tok', genesis: GENESIS, sessionId: 42, startSeconds: 10,
    sign: (bytes) => { signed.push(u8aToHex(bytes)); return `0x${'22'.repeat(64)}`; },
    watchedSeconds: () => watched, intervalMs: 60_000, fetch: fakeFetch(requests), RTCPeerConnection: FakePc,
  });
  const pc = await player.start();
  assert.deepEqual(pc.transceivers, [['video', 'recvonly'], ['audio', 'recvonly']]);
  assert.equal(requests[0].headers.Authorization, 'Bearer tok');
  assert.equal(requests[0].body, 'v=0 offer');
  assert.equal(pc.remoteDescription.sdp, 'v=0 answer');
  // Nothing watched yet: nothing signed.
  assert.equal(await player.tick(), null);
  watched = 2;
  await player.tick();
  assert.deepEqual(signed, [u8aToHex(voucherPayload(GENESIS, 42, 12))]);
  const posted = requests[1];
  assert.equal(posted.url, 'http://127.0.0.1:7070/vouchers');
  assert.equal(posted.headers.Authorization, 'Bearer tok');
  assert.deepEqual(JSON.parse(posted.body), {
    cumulative_seconds: 12, encoding: 'raw', crypto: 'sr25519', signer: 'voucher_key', signature: `0x${'22'.repeat(64)}`,
  });
  // The same seconds again: nothing new to pay.
  assert.equal(await player.tick(), null);
  await player.stop();
  assert.equal(requests.at(-1).method, 'DELETE');
  assert.equal(requests.at(-1).url, 'http://127.0.0.1:7070/whep/7/abc');
  assert.ok(pc.closed);
});

test('a refused offer closes the connection and says why', async () => {
  const player = new WhepPlayer({
    whepUrl: 'http://127.0.0.1:7070/whep/7', token: 'tok', genesis: GENESIS, sessionId: 42, sign: () => '0x',
    fetch: fakeFetch([], { offerStatus: 403 }), RTCPeerConnection: FakePc,
  });
  await assert.rejects(player.start(), /WHEP offer refused: 403/);
  assert.ok(player.pc.closed);
});
