// The page signs in only to the sidecar it connected to: a challenge that names another origin
// (a sidecar relaying an honest one's nonce to log in there as this page's account) is refused
// before anything is signed or sent.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, WebSocketServer } from 'ws';
import { SidecarClient, authPayload } from '../src/index.js';

globalThis.WebSocket ??= WebSocket;

const GENESIS = `0x${'ab'.repeat(32)}`;
const NONCE = `0x${'cd'.repeat(32)}`;

/** A sidecar stand-in whose challenge names `audience(port)`; records what clients send. */
async function fakeSidecar(audience) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
  await new Promise((r) => wss.once('listening', r));
  const { port } = wss.address();
  const received = [];
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ v: 1, type: 'challenge', nonce: NONCE, genesis: GENESIS, audience: audience(port) }));
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      received.push(msg);
      if (msg.type === 'auth') ws.send(JSON.stringify({ v: 1, type: 'authenticated', account: msg.account }));
    });
  });
  after(() => new Promise((r) => wss.close(r)));
  return { url: `ws://127.0.0.1:${port}/ws`, received };
}

test('a challenge naming another sidecar is refused, nothing signed or sent', async () => {
  for (const audience of [
    () => 'https://honest.example', // relayed from another sidecar
    (port) => `http://127.0.0.1:${port + 1}`, // same host, another port
    (port) => `https://127.0.0.1:${port}`, // another scheme
    () => undefined, // a v1 sidecar's challenge names none
  ]) {
    const sidecar = await fakeSidecar(audience);
    let signed = 0;
    const login = async () => {
      signed += 1;
      return { account: '5x', crypto: 'sr25519', encoding: 'raw', signature: `0x${'00'.repeat(64)}` };
    };
    const client = new SidecarClient(sidecar.url);
    await assert.rejects(client.connect(login, { genesis: GENESIS, timeoutMs: 5000 }), /refused to sign in/);
    assert.equal(signed, 0, 'nothing signed');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(sidecar.received, [], 'nothing sent');
  }
});

test('a challenge naming the sidecar connected to is answered over its audience', async () => {
  const sidecar = await fakeSidecar((port) => `http://127.0.0.1:${port}`);
  const payloads = [];
  const login = async (payload) => {
    payloads.push(payload);
    return { account: '5x', crypto: 'sr25519', encoding: 'raw', signature: `0x${'00'.repeat(64)}` };
  };
  const client = new SidecarClient(sidecar.url);
  const reply = await client.connect(login, { genesis: GENESIS, timeoutMs: 5000 });
  assert.equal(reply.type, 'authenticated');
  const origin = new URL(sidecar.url.replace('ws:', 'http:')).origin;
  assert.deepEqual(payloads, [authPayload(GENESIS, origin, NONCE)]);
  assert.equal(sidecar.received.length, 1);
  client.close();
});
