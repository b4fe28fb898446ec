// Where the pages find the node and the sidecar: query overrides are for development only; a
// production deployment (its /config.json says dev: false) ignores them, so that a crafted link
// cannot point a visitor's page at another node or sidecar, or turn on development accounts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ENDPOINT_BYTES, endpointSeed, resolveConfig, sidecarForStream, streamEndpointFor } from '../../src/lib/config.js';

const sameOrigin = (path) => `wss://vilokanam.example${path}`;
const evil = new URLSearchParams('node=wss://evil.example&sidecar=wss://evil.example/ws&dev=1');

test('a production deployment ignores ?node=, ?sidecar= and ?dev=', () => {
  const file = { node_url: 'wss://rpc.vilokanam.example', ws_path: '/ws', dev: false };
  const c = resolveConfig(file, evil, sameOrigin);
  assert.equal(c.nodeUrl, 'wss://rpc.vilokanam.example');
  assert.equal(c.sidecarUrl, 'wss://vilokanam.example/ws');
  assert.equal(c.sidecarFromQuery, false);
  assert.equal(c.dev, false, 'no development accounts');
});

test('a development chain honours the overrides', () => {
  const c = resolveConfig({ node_url: 'ws://127.0.0.1:9944', dev: true }, evil, sameOrigin);
  assert.equal(c.nodeUrl, 'wss://evil.example');
  assert.equal(c.sidecarUrl, 'wss://evil.example/ws');
  assert.equal(c.sidecarFromQuery, true);
  assert.equal(c.dev, true);
});

test('pages served without /config.json take the overrides (development against a dev node)', () => {
  const c = resolveConfig(null, new URLSearchParams('dev=0&node=ws://10.0.0.9:9944'), sameOrigin);
  assert.equal(c.nodeUrl, 'ws://10.0.0.9:9944');
  assert.equal(c.sidecarUrl, 'wss://vilokanam.example/ws');
  assert.equal(c.dev, false);
  assert.equal(c.served, false);
});

test('without overrides, the served file and then the defaults apply', () => {
  const c = resolveConfig({ dev: false }, new URLSearchParams(''), sameOrigin);
  assert.equal(c.nodeUrl, 'ws://127.0.0.1:9944');
  assert.equal(c.sidecarUrl, 'wss://vilokanam.example/ws');
  assert.equal(resolveConfig({}, new URLSearchParams(''), sameOrigin).dev, null, 'ask the chain');
});

test('a viewer watches at one of the sidecars a stream names, the same one for the same seed', () => {
  const c = resolveConfig({ dev: false }, new URLSearchParams(''), sameOrigin);
  const origin = 'wss://origin.example/ws';
  const edges = ['wss://edge-a.example/ws', 'wss://edge-b.example/ws'];
  const stream = { endpoint: [origin, ...edges].join(' ') };
  const seen = new Map();
  for (let i = 0; i < 300; i++) {
    const url = sidecarForStream(c, stream, `seed-${i}`);
    assert.equal(url, sidecarForStream(c, stream, `seed-${i}`), 'stable for a seed');
    seen.set(url, (seen.get(url) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), [...edges, origin].sort(), 'every sidecar gets viewers');
  for (const n of seen.values()) assert.ok(n > 60, `spread evenly: ${[...seen.values()]}`);
  // One URL: that one; none usable (an https page, junk): the configured sidecar.
  assert.equal(sidecarForStream(c, { endpoint: origin }, 'x'), origin);
  assert.equal(sidecarForStream(c, { endpoint: 'https://x.example javascript:alert(1)' }, 'x'), c.sidecarUrl);
  assert.equal(sidecarForStream(c, { endpoint: null }, 'x'), c.sidecarUrl);
});

test('the endpoint seed is random once, then kept', () => {
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
  const seed = endpointSeed(storage);
  assert.match(seed, /^[0-9a-f]{16}$/);
  assert.equal(endpointSeed(storage), seed);
  const other = new Map();
  assert.notEqual(endpointSeed({ getItem: (k) => other.get(k) ?? null, setItem: (k, v) => other.set(k, v) }), seed);
});

test('a stream registered at an origin names its edges after it, as many as the chain stores', () => {
  const origin = 'wss://origin.example/ws';
  assert.equal(streamEndpointFor(origin, undefined), origin);
  const edges = ['wss://a.example/ws', 'https://not-ws.example', origin, 'wss://b.example/ws'];
  assert.equal(streamEndpointFor(origin, edges), `${origin} wss://a.example/ws wss://b.example/ws`);
  const many = Array.from({ length: 20 }, (_, i) => `wss://edge-${i}.example.com/ws`);
  const endpoint = streamEndpointFor(origin, many);
  assert.ok(new TextEncoder().encode(endpoint).length <= MAX_ENDPOINT_BYTES, endpoint);
  assert.ok(endpoint.startsWith(`${origin} wss://edge-0.example.com/ws`), endpoint);
});
