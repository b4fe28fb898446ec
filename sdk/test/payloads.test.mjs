// The payloads the page signs, byte for byte as docs/WALLET.md lays them out: tags as raw ASCII,
// the 32-byte genesis hash, little-endian integers, no length prefixes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex } from '@polkadot/util';
import { encodeAddress } from '@polkadot/util-crypto';
import {
  AUTH_TAG, CLOSE_TAG, DELEGATE_TAG, VOUCHER_TAG, authPayload, closePayload, delegatePayload, voucherPayload,
} from '../src/index.js';

const ascii = (s) => Buffer.from(s, 'ascii').toString('hex');
const GENESIS = `0x${Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1)).toString('hex')}`;
const G = GENESIS.slice(2);
const SESSION = 0x0102030405060708n;
const SESSION_LE = '0807060504030201';
const SECONDS_LE = '3d00000000000000'; // 61
const VIEWER = `0x${'aa'.repeat(32)}`;

test('voucher: "vilokanam/tick/v1" ++ genesis ++ u64 session ++ u64 seconds, 65 bytes', () => {
  const p = voucherPayload(GENESIS, SESSION, 61);
  assert.equal(p.length, 65);
  assert.equal(u8aToHex(p), `0x${ascii('vilokanam/tick/v1')}${G}${SESSION_LE}${SECONDS_LE}`);
});

test('close intent: "vilokanam/close/v1" ++ genesis ++ u64 session ++ u64 seconds, 66 bytes', () => {
  const p = closePayload(GENESIS, SESSION, 61);
  assert.equal(p.length, 66);
  assert.equal(u8aToHex(p), `0x${ascii('vilokanam/close/v1')}${G}${SESSION_LE}${SECONDS_LE}`);
  // Same session and seconds as a voucher, different bytes: one never stands for the other.
  assert.notEqual(u8aToHex(p.subarray(0, 65)), u8aToHex(voucherPayload(GENESIS, SESSION, 61)));
});

test('delegate call: 97 fixed bytes (tag, genesis, viewer, u64 allowance id, u32 nonce), then SCALE(op)', () => {
  // OpenSession { stream 5, 120 s, 10^9 per second, voucher key 0xbb… }, laid out by hand.
  const op = Buffer.from(`00${'0500000000000000'}${'7800000000000000'}${'00ca9a3b000000000000000000000000'}${'bb'.repeat(32)}`, 'hex');
  assert.equal(op.length, 65);
  const p = delegatePayload(GENESIS, VIEWER, 7, 0x01020304, op);
  assert.equal(p.length, 97 + op.length);
  assert.equal(u8aToHex(p.subarray(0, 97)),
    `0x${ascii('vilokanam/delegate/v1')}${G}${'aa'.repeat(32)}${'0700000000000000'}${'04030201'}`);
  assert.equal(u8aToHex(p.subarray(97)), `0x${op.toString('hex')}`);
  // The viewer may be given as SS58: the same 32 bytes are signed.
  assert.deepEqual(delegatePayload(GENESIS, encodeAddress(VIEWER, 42), 7, 0x01020304, op), p);
  // TopUp { session 9, 60 s }: 0x01 ++ u64 ++ u64.
  const topUp = Buffer.from(`01${'0900000000000000'}${'3c00000000000000'}`, 'hex');
  assert.equal(delegatePayload(GENESIS, VIEWER, 7, 0, topUp).length, 97 + 17);
});

test('sidecar login: "vilokanam/auth/v2" ++ genesis ++ audience (compact length) ++ nonce', () => {
  const nonce = `0x${'cd'.repeat(32)}`;
  const audience = 'https://sidecar.example';
  const p = authPayload(GENESIS, audience, nonce);
  assert.equal(p.length, 17 + 32 + 1 + audience.length + 32);
  // SCALE compact length of 23 bytes: 23 << 2 = 0x5c.
  assert.equal(u8aToHex(p), `0x${ascii('vilokanam/auth/v2')}${G}5c${ascii(audience)}${'cd'.repeat(32)}`);
  // Another sidecar's origin gives other bytes to sign.
  assert.notDeepEqual(authPayload(GENESIS, 'https://evil.example', nonce), p);
});

test('no tag is a prefix of another, so no payload of one kind is a payload of another', () => {
  const tags = [VOUCHER_TAG, CLOSE_TAG, DELEGATE_TAG, AUTH_TAG].map((t) => Buffer.from(t).toString('ascii'));
  assert.deepEqual(tags, ['vilokanam/tick/v1', 'vilokanam/close/v1', 'vilokanam/delegate/v1', 'vilokanam/auth/v2']);
  for (const a of tags) {
    for (const b of tags) if (a !== b) assert.ok(!b.startsWith(a), `${a} is a prefix of ${b}`);
  }
});

test('a genesis, nonce or viewer that is not 32 bytes is refused rather than signed', () => {
  assert.throws(() => voucherPayload('0x0102', 1, 1), /genesis must be 32 bytes/);
  assert.throws(() => closePayload(`${GENESIS}00`, 1, 1), /genesis must be 32 bytes/);
  assert.throws(() => authPayload(GENESIS, 'https://s.example', '0x01'), /nonce must be 32 bytes/);
  for (const audience of [undefined, '', 'wss://s.example', 'https://s.example/\n']) {
    assert.throws(() => authPayload(GENESIS, audience, `0x${'cd'.repeat(32)}`), /audience must be/);
  }
  assert.throws(() => delegatePayload(GENESIS, '0x0102', 0, 0, new Uint8Array()));
});
