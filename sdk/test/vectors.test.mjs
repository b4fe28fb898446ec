// Every vector of test/vectors.json, written by the Rust encoders the chain and the sidecar use
// (sidecar/tests/sdk_vectors.rs), reproduced byte for byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { u8aToHex } from '@polkadot/util';
import {
  authMessage, authPayload, closeMessage, closePayload, delegateOp, delegatePayload, heartbeatMessage,
  sidecarHttpOrigin, voucherPayload, wrapBytes,
} from '../src/index.js';

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));
const { genesis } = vectors;

for (const [name, build] of [['voucher', voucherPayload], ['close', closePayload]]) {
  test(`${name} payloads equal the pallet's`, () => {
    assert.ok(vectors[name].length >= 3);
    for (const v of vectors[name]) {
      const payload = build(genesis, BigInt(v.session_id), BigInt(v.cumulative_seconds));
      assert.equal(u8aToHex(payload), v.payload);
      assert.equal(u8aToHex(wrapBytes(payload)), v.wrapped);
    }
  });
}

test("delegate payloads and ops equal the pallet's", () => {
  assert.equal(vectors.delegate.length, 2);
  for (const v of vectors.delegate) {
    const op = delegateOp(v.op);
    assert.equal(u8aToHex(op), v.op_scale);
    assert.equal(u8aToHex(delegatePayload(genesis, v.viewer, BigInt(v.allowance_id), Number(v.nonce), op)), v.payload);
  }
});

test("login payloads equal the sidecar's", () => {
  for (const v of vectors.auth) {
    const payload = authPayload(genesis, v.audience, v.nonce);
    assert.equal(u8aToHex(payload), v.payload);
    assert.equal(u8aToHex(wrapBytes(payload)), v.wrapped);
  }
});

test("audiences equal the sidecar's", () => {
  for (const v of vectors.audience) assert.equal(sidecarHttpOrigin(v.url), v.audience, v.url);
});

test("messages equal the sidecar's own encoding", () => {
  const builders = { heartbeat: heartbeatMessage, close: closeMessage, auth: authMessage };
  for (const v of vectors.messages) {
    const [[kind, fields]] = Object.entries(v.build);
    assert.deepEqual(builders[kind]({ ...fields, signature: v.signature }), v.message, kind);
  }
});

test('out-of-range values are refused, not wrapped around', () => {
  assert.throws(() => voucherPayload(genesis, 1n << 64n, 1), /u64/);
  assert.throws(() => voucherPayload(genesis, -1, 1), /u64/);
  assert.throws(() => voucherPayload(`0x${'00'.repeat(31)}`, 1, 1), /32 bytes/);
  assert.throws(() => delegateOp({ topUp: { sessionId: 1, extraSeconds: 1n << 64n } }), /u64/);
  assert.throws(() => delegateOp({}), /openSession/);
  assert.throws(() => heartbeatMessage({ sessionId: 1, cumulativeSeconds: 1, signature: '0x00' }), /64 bytes/);
});
