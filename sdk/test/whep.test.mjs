// The WHEP player: its offer, its vouchers (signed by the session's key, above the last one, with
// the watch token) and its teardown, against stand-ins for fetch and RTCPeerConnection. And the
// RFC 9725 `Link` headers that carry ICE servers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex } from '@polkadot/util';
import { parseIceServerLinks, voucherPayload, WhepPlayer } from '../src/index.js';

const GENESIS = `0x${'ab'.repeat(32)}`;

class FakePc {
  constructor(config) { this.config = config; this.transceivers = []; this.closed = false; }
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
  assert.deepEqual(pc.config, { iceServers: [], iceTransportPolicy: 'all' });
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

test('the ICE servers of the watch token and the relay-only policy configure the connection', async () => {
  const iceServers = [{ urls: ['turn:127.0.0.1:3478?transport=udp'], username: '1765123456:s42', credential: 'c2Vj' }];
  const player = new WhepPlayer({
    whepUrl: 'http://127.0.0.1:7070/whep/7', token: 'tok', genesis: GENESIS, sessionId: 42, sign: () => '0x',
    intervalMs: 60_000, fetch: fakeFetch([]), RTCPeerConnection: FakePc, iceServers, iceTransportPolicy: 'relay',
  });
  const pc = await player.start();
  assert.deepEqual(pc.config, { iceServers, iceTransportPolicy: 'relay' });
  await player.stop();
});

const UDP = 'turn:127.0.0.1:3478?transport=udp';
const TCP = 'turn:127.0.0.1:3478?transport=tcp';

test('parseIceServerLinks: one link', () => {
  assert.deepEqual(
    parseIceServerLinks(`<${UDP}>; rel="ice-server"; username="1765123456:s42"; credential="abc=="; credential-type="password"`),
    [{ urls: [UDP], username: '1765123456:s42', credential: 'abc==' }],
  );
});

test('parseIceServerLinks: two links joined by a comma (as fetch joins repeated headers)', () => {
  const value = `<${UDP}>; rel="ice-server"; username="u"; credential="p1=", `
    + `<${TCP}>;rel=ice-server;username=u;credential=p2;credential-type=password`;
  assert.deepEqual(parseIceServerLinks(value), [
    { urls: [UDP], username: 'u', credential: 'p1=' },
    { urls: [TCP], username: 'u', credential: 'p2' },
  ]);
});

test('parseIceServerLinks: a quoted credential may hold commas, semicolons, quotes and angle brackets', () => {
  const value = `<${UDP}>; rel="ice-server"; username="a,b"; credential="x, <y>; z=\\"q\\""; credential-type="password", `
    + `<stun:127.0.0.1:3478>; rel="ice-server"`;
  assert.deepEqual(parseIceServerLinks(value), [
    { urls: [UDP], username: 'a,b', credential: 'x, <y>; z="q"' },
    { urls: ['stun:127.0.0.1:3478'] },
  ]);
});

test('parseIceServerLinks: other relations are ignored; the first rel counts; names are case-insensitive', () => {
  const value = '</whep/7/abc>; rel="urn:ietf:params:whep:ext:core:server-sent-events", '
    + `<${UDP}>; rel="preload"; username="u"; credential="p", `
    + `<${TCP}>; REL="ice-server"; rel="other"; Username="u"; Credential="p"`;
  assert.deepEqual(parseIceServerLinks(value), [{ urls: [TCP], username: 'u', credential: 'p' }]);
});

test('parseIceServerLinks: a TURN link without a password credential is left out', () => {
  assert.deepEqual(parseIceServerLinks(`<${UDP}>; rel="ice-server"`), []);
  assert.deepEqual(parseIceServerLinks(`<${UDP}>; rel="ice-server"; username="u"; credential="t"; credential-type="oauth"`), []);
});

test('parseIceServerLinks: junk gives no server', () => {
  for (const junk of [null, undefined, '', 'garbage', '<turn:x', `<${UDP}>; rel="ice-server"; username="unterminated`,
    `${UDP}; rel="ice-server"; username="u"; credential="p"`, '<http://example.com/>; rel="ice-server"', ';;;,,,']) {
    assert.deepEqual(parseIceServerLinks(junk), [], JSON.stringify(junk));
  }
});
