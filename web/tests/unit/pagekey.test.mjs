// The page key: one per (chain, account), kept across reloads, signing the bytes as they are.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hexToU8a } from '@polkadot/util';
import { signatureVerify } from '@polkadot/util-crypto';
import { pageKey, pageKeyName } from '../../src/lib/pagekey.js';

/** A `localStorage` stand-in. */
function memoryStorage() {
  const items = new Map();
  return {
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => items.set(k, String(v)),
    items,
  };
}

const GENESIS = `0x${'11'.repeat(32)}`;
const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty';

test('the key is generated once and reused (a reload gets the same key)', async () => {
  const storage = memoryStorage();
  const first = await pageKey(GENESIS, ALICE, storage);
  assert.match(storage.getItem(pageKeyName(GENESIS, ALICE)), /^0x[0-9a-f]{64}$/);
  const again = await pageKey(GENESIS, ALICE, storage);
  assert.equal(again.address, first.address);
  assert.equal(again.publicKey, first.publicKey);
  assert.equal(storage.items.size, 1);
});

test('one key per chain and account', async () => {
  const storage = memoryStorage();
  const a = await pageKey(GENESIS, ALICE, storage);
  const b = await pageKey(GENESIS, BOB, storage);
  const c = await pageKey(`0x${'22'.repeat(32)}`, ALICE, storage);
  assert.equal(new Set([a.address, b.address, c.address]).size, 3);
  assert.notEqual(a.address, ALICE);
});

test('it signs the bytes as they are (raw), verifiably by its public key', async () => {
  const key = await pageKey(GENESIS, ALICE, memoryStorage());
  const payload = new TextEncoder().encode('vilokanam/tick/v1 and so on');
  const signature = key.sign(payload);
  assert.equal(hexToU8a(signature).length, 64);
  const check = signatureVerify(payload, signature, key.publicKey);
  assert.ok(check.isValid);
  assert.equal(check.crypto, 'sr25519');
  assert.equal(check.isWrapped, false);
});

test('a stored value that is not a seed is replaced', async () => {
  const storage = memoryStorage();
  storage.setItem(pageKeyName(GENESIS, ALICE), 'garbage');
  const key = await pageKey(GENESIS, ALICE, storage);
  assert.match(storage.getItem(pageKeyName(GENESIS, ALICE)), /^0x[0-9a-f]{64}$/);
  assert.equal((await pageKey(GENESIS, ALICE, storage)).address, key.address);
});
