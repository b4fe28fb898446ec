// The creator page applies the sidecar's relaying terms before registering a stream: below the
// price floor it refuses, and the relayer's share is added or raised to the lowest the sidecar
// relays for (without that, the sidecar would refuse to serve the stream).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRelayerTerms } from '../../src/lib/terms.js';

const same = (a, b) => a === b;
const terms = { min_price_per_second: '1000', min_relayer_share_ppm: 50_000 };

test('the relayer is added to the split at the lowest share', () => {
  const split = applyRelayerTerms({ split: [['bob', 100_000]], price: 1000n, relayer: 'ferdie', terms, same });
  assert.deepEqual(split, [['bob', 100_000], ['ferdie', 50_000]]);
});

test('a share below the terms is raised, one above is kept', () => {
  assert.deepEqual(applyRelayerTerms({ split: [['ferdie', 10_000]], price: 5000n, relayer: 'ferdie', terms, same }), [['ferdie', 50_000]]);
  assert.deepEqual(applyRelayerTerms({ split: [['ferdie', 70_000]], price: 5000n, relayer: 'ferdie', terms, same }), [['ferdie', 70_000]]);
});

test('a price below the floor, or shares past 100 %, are refused', () => {
  assert.throws(() => applyRelayerTerms({ split: [], price: 999n, relayer: 'ferdie', terms, same }), /priced from 1000/);
  assert.throws(() => applyRelayerTerms({ split: [['bob', 960_000]], price: 1000n, relayer: 'ferdie', terms, same }), /more than 100 %/);
});

test('without terms, or without a relayer, the split is the creator\'s own', () => {
  assert.deepEqual(applyRelayerTerms({ split: [['bob', 1]], price: 0n, relayer: 'ferdie', terms: undefined, same }), [['bob', 1]]);
  assert.deepEqual(applyRelayerTerms({ split: [['bob', 1]], price: 0n, relayer: null, terms, same }), [['bob', 1]]);
  assert.deepEqual(applyRelayerTerms({ split: [], price: 0n, relayer: 'ferdie', terms: { min_price_per_second: '0', min_relayer_share_ppm: 0 }, same }), []);
});
