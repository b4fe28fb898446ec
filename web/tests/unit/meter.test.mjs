// The watch meter and the voucher target: what the page may sign is measured from presented
// frames and capped by chain time and the escrow; nothing the sidecar says enters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FRAME_GAP_MS, WatchMeter, voucherTarget } from '../../src/lib/meter.js';

/** Feeds frames at `fps` from `from` to `to` ms (inclusive, exact multiples: no rounding). */
function play(meter, from, to, fps = 30) {
  const n = Math.round(((to - from) * fps) / 1000);
  for (let i = 0; i <= n; i++) meter.frame(from + (i * (to - from)) / n);
}

const FAR = { nowMs: 1e12, openedAtMs: 0, maxSeconds: 1e9 }; // no cap from time or escrow

test('10 s of continuous frames: 10 000 ms watched, target exactly 10', () => {
  const m = new WatchMeter();
  play(m, 5_000, 15_000);
  assert.equal(m.watchedMs, 10_000);
  assert.equal(voucherTarget({ base: 0, watchedMs: m.watchedMs, ...FAR }), 10);
});

test('a started second counts: the first voucher goes out at the second frame', () => {
  const m = new WatchMeter();
  m.frame(1_000);
  assert.equal(voucherTarget({ base: 0, watchedMs: m.watchedMs, ...FAR }), 0);
  m.frame(1_033);
  assert.equal(voucherTarget({ base: 0, watchedMs: m.watchedMs, ...FAR }), 1);
  play(m, 1_033, 11_043); // 10.043 s in all
  assert.equal(voucherTarget({ base: 0, watchedMs: m.watchedMs, ...FAR }), 11);
});

test('gaps above 1 s (stall, pause, hidden tab) add nothing; a gap of exactly 1 s counts', () => {
  const m = new WatchMeter();
  play(m, 0, 2_000);
  m.frame(2_000 + MAX_FRAME_GAP_MS); // counted
  assert.equal(m.watchedMs, 3_000);
  m.frame(3_000 + MAX_FRAME_GAP_MS + 1); // not counted: a new interval starts here
  assert.equal(m.watchedMs, 3_000);
  play(m, 4_001, 6_001);
  assert.equal(m.watchedMs, 5_000);
  m.frame(60_000); // a minute in a background tab
  play(m, 60_000, 61_500);
  assert.equal(m.watchedMs, 6_500);
  assert.equal(voucherTarget({ base: 0, watchedMs: m.watchedMs, ...FAR }), 7);
});

test('frames out of order or repeated add nothing', () => {
  const m = new WatchMeter();
  play(m, 0, 1_000);
  m.frame(1_000);
  m.frame(500);
  assert.equal(m.watchedMs, 1_000);
});

test('reset starts from zero', () => {
  const m = new WatchMeter();
  play(m, 0, 4_000);
  m.reset();
  assert.equal(m.watchedMs, 0);
  m.frame(4_500); // no gap from the frames before the reset
  assert.equal(m.watchedMs, 0);
});

test('the target never exceeds the seconds elapsed since the session opened', () => {
  const watchedMs = 10_000;
  assert.equal(voucherTarget({ base: 0, watchedMs, nowMs: 107_999, openedAtMs: 100_000, maxSeconds: 100 }), 7);
  assert.equal(voucherTarget({ base: 0, watchedMs, nowMs: 108_000, openedAtMs: 100_000, maxSeconds: 100 }), 8);
  // A page clock behind the chain's: nothing, not a negative number.
  assert.equal(voucherTarget({ base: 0, watchedMs, nowMs: 99_000, openedAtMs: 100_000, maxSeconds: 100 }), 0);
});

test('the target never exceeds the seconds paid for', () => {
  assert.equal(voucherTarget({ base: 0, watchedMs: 10_000, nowMs: 1e6, openedAtMs: 0, maxSeconds: 6 }), 6);
  assert.equal(voucherTarget({ base: 6, watchedMs: 10_000, nowMs: 1e6, openedAtMs: 0, maxSeconds: 6 }), 6);
});

test('after a reload the target goes on from what the page had signed (base)', () => {
  assert.equal(voucherTarget({ base: 42, watchedMs: 0, ...FAR }), 42);
  assert.equal(voucherTarget({ base: 42, watchedMs: 1_500, ...FAR }), 44);
  // …still within the elapsed time: 45 s since the opening.
  assert.equal(voucherTarget({ base: 42, watchedMs: 9_000, nowMs: 45_000, openedAtMs: 0, maxSeconds: 1e9 }), 45);
});

test('what the sidecar says is not an input: an inflated ack or an error changes nothing', () => {
  const args = { base: 3, watchedMs: 2_500, nowMs: 60_000, openedAtMs: 0, maxSeconds: 100 };
  assert.equal(voucherTarget(args), 6);
  assert.equal(voucherTarget({ ...args, acked: 1_000, ack: 1_000, error: 'stale' }), 6);
});
