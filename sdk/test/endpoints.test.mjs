import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickEndpoint, streamEndpoints } from '../src/index.js';

test("a stream's endpoint names its origin and edges; junk is ignored", () => {
  const field = ' wss://o.example/ws  ws://10.0.0.2:7070/ws https://x.example ftp://y javascript:z ';
  assert.deepEqual(streamEndpoints(field), ['wss://o.example/ws', 'ws://10.0.0.2:7070/ws']);
  assert.deepEqual(streamEndpoints(null), []);
  assert.equal(pickEndpoint('https://only.example', 'a'), null);
});

test('pickEndpoint is FNV-1a of the seed, modulo the sidecars', () => {
  // FNV-1a("a") = 0xe40c292c: even, so the first of two; ("b") = 0xe70c2de5: odd, the second.
  const two = 'wss://o.example/ws wss://e.example/ws';
  assert.equal(pickEndpoint(two, 'a'), 'wss://o.example/ws');
  assert.equal(pickEndpoint(two, 'b'), 'wss://e.example/ws');
  assert.equal(pickEndpoint('wss://o.example/ws', 'anything'), 'wss://o.example/ws');
});
