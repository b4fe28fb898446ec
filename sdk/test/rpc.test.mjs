// The polkadot.js definitions decode what the node sends (docs/API.md's examples) into typed
// values. The real node is queried through them by e2e/polkadotjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypeRegistry } from '@polkadot/types';
import { vilokanamRpc, vilokanamTypes } from '../src/rpc.js';

const registry = new TypeRegistry();
registry.register(vilokanamTypes);

test('a Stream result decodes field for field', () => {
  const json = {
    id: 7, creator: '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty', title: 'Late Night Jazz',
    metadata: 'ipfs://bafy-example', category: 1, tags: ['jazz', 'live'], pricePerSecond: '1000000000',
    status: 'Live', createdAt: 1767225600000, startedAt: 1767225660000, endedAt: null,
    endpoint: 'wss://sidecar.example.com/ws', relayer: '5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL',
    collaborators: [['5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL', 100000]], totalSeconds: 180,
    totalEarned: '180000000000', currentViewers: 2, peakViewers: 3, replayPrice: null,
  };
  const s = registry.createType('VilokanamStream', json);
  assert.equal(s.id.toNumber(), 7);
  assert.equal(s.title.toString(), 'Late Night Jazz');
  assert.equal(s.pricePerSecond.toBigInt(), 1_000_000_000n);
  assert.equal(s.totalEarned.toBigInt(), 180_000_000_000n);
  assert.ok(s.status.isLive);
  assert.ok(s.endedAt.isNone);
  assert.equal(s.startedAt.unwrap().toNumber(), 1767225660000);
  assert.equal(s.relayer.unwrap().toString(), json.relayer);
  assert.equal(s.collaborators[0][1].toNumber(), 100000);
  assert.deepEqual(s.tags.map(String), ['jazz', 'live']);
  assert.ok(s.replayPrice.isNone);
});

test("an ended Stream's replay price decodes as a Balance", () => {
  const s = registry.createType('VilokanamStream', {
    id: 8, creator: '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty', title: 'Replay', metadata: '',
    category: 1, tags: [], pricePerSecond: '1000000000', status: 'Ended', createdAt: 1, startedAt: 2,
    endedAt: 3, endpoint: null, relayer: null, collaborators: [], totalSeconds: 0, totalEarned: '0',
    currentViewers: 0, peakViewers: 0, replayPrice: '18446744073709551616',
  });
  assert.ok(s.status.isEnded);
  assert.equal(s.replayPrice.unwrap().toBigInt(), 18446744073709551616n);
});

test('a Session result keeps a voucher cost above 2^53', () => {
  const s = registry.createType('VilokanamSession', {
    id: 42, viewer: '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y', voucherKey: '5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy',
    streamId: 7, pricePerSecond: '1000000000', maxSeconds: 3600, settledSeconds: 60, escrowRemaining: '3540000000000',
    openedAt: 1767225700000, open: true, closingSince: null, refundAt: null, allowance: 3, voucherCost: '18446744073709551616',
  });
  assert.equal(s.voucherCost.unwrap().toBigInt(), 18446744073709551616n);
  assert.ok(s.open.isTrue);
  assert.equal(s.allowance.unwrap().toNumber(), 3);
});

test('a closed Session result says what it refunded, when and why', () => {
  const s = registry.createType('VilokanamSession', {
    id: 42, viewer: '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y', voucherKey: '5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy',
    streamId: 7, pricePerSecond: '1000000000', maxSeconds: 3600, settledSeconds: 60, escrowRemaining: '0',
    openedAt: 1767225700000, open: false, closingSince: 1767225790000, refundAt: null, allowance: null, voucherCost: null,
    closed: { closedAt: 1767225800000, closedIn: 120, refunded: '3540000000000', reason: 'WindowElapsed' },
  });
  const closed = s.closed.unwrap();
  assert.equal(closed.refunded.toBigInt(), 3_540_000_000_000n);
  assert.equal(closed.closedIn.toNumber(), 120);
  assert.ok(closed.reason.isWindowElapsed);
  assert.ok(s.open.isFalse);
});

test('every method names types the registry knows', () => {
  for (const [name, def] of Object.entries(vilokanamRpc.vilokanam)) {
    assert.ok(def.description, name);
    registry.createType(def.type);
    for (const p of def.params) registry.createType(p.type);
  }
});
