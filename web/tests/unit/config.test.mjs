// Where the pages find the node and the sidecar: query overrides are for development only; a
// production deployment (its /config.json says dev: false) ignores them, so that a crafted link
// cannot point a visitor's page at another node or sidecar, or turn on development accounts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/lib/config.js';

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
