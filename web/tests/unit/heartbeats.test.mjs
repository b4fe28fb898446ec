// The viewer page's voucher bookkeeping: what it signs next comes from its own measure only,
// capped by chain time and the escrow; acknowledgements are shown, never signed; a reload goes on
// from what was signed; one close intent per session.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heartbeats, JOIN_RETRIES, JOIN_RETRY_MS, joinRetryDelayMs } from '../../src/lib/heartbeats.js';
import { WatchMeter } from '../../src/lib/meter.js';

const OPENED_AT = 1_000_000; // chain ms
const FAR = OPENED_AT + 1e9; // no cap from elapsed time

/** A session as the page keeps it (`openSession`). */
function session(id = 7, maxSeconds = 100) {
  return { id, price: 10n, maxSeconds, openedAt: OPENED_AT };
}

/** A `Heartbeats` with session `s` just opened and being watched. */
function watching(s = session()) {
  const hb = new Heartbeats();
  hb.opened(s);
  hb.watch();
  return hb;
}

/** What the page does on each tick: sign the next voucher if there is one; returns it or null. */
function tick(hb, watchedMs, nowMs = FAR) {
  const next = hb.nextVoucher({ watchedMs, nowMs });
  if (next !== null) hb.signedUpTo(next);
  return next;
}

test('no session: nothing to sign, nothing due, nothing shown', () => {
  const hb = new Heartbeats();
  assert.equal(hb.nextVoucher({ watchedMs: 5_000, nowMs: FAR }), null);
  assert.equal(hb.closeIntentDue(), false);
  assert.equal(hb.stored(), null);
  assert.equal(hb.shown, null);
  assert.equal(hb.usedUp, false);
  assert.equal(hb.signed, 0);
});

test('the first voucher goes out at the second presented frame, for 1 s', () => {
  const hb = watching();
  const meter = new WatchMeter();
  assert.equal(hb.nextVoucher({ watchedMs: meter.watchedMs, nowMs: FAR }), null); // no frame yet
  meter.frame(5_000);
  assert.equal(hb.nextVoucher({ watchedMs: meter.watchedMs, nowMs: FAR }), null); // one frame: 0 ms
  meter.frame(5_033);
  assert.equal(hb.nextVoucher({ watchedMs: meter.watchedMs, nowMs: FAR }), 1);
  assert.equal(hb.signed, 0, 'deciding signs nothing');
  hb.signedUpTo(1);
  assert.equal(hb.signed, 1);
  assert.deepEqual(hb.stored(), { id: 7, signed: 1 });
});

test('no voucher when nothing new was watched', () => {
  const hb = watching();
  assert.equal(tick(hb, 2_500), 3);
  assert.equal(tick(hb, 2_500), null);
  assert.equal(tick(hb, 3_000), null); // still within the third second
  assert.equal(tick(hb, 3_001), 4);
  assert.equal(hb.signed, 4);
});

test('never above the seconds elapsed on chain since the opening', () => {
  const hb = watching();
  assert.equal(tick(hb, 10_000, OPENED_AT + 5_999), 5);
  assert.equal(tick(hb, 10_000, OPENED_AT + 5_999), null);
  assert.equal(tick(hb, 10_000, OPENED_AT + 7_000), 7);
  assert.equal(tick(hb, 10_000, OPENED_AT + 60_000), 10);
  // A page clock behind the chain's signs nothing (and never a voucher for 0).
  const early = watching();
  assert.equal(tick(early, 10_000, OPENED_AT - 1_000), null);
  assert.equal(early.signed, 0);
});

test('never above the escrowed seconds; used up until a top up', () => {
  const hb = watching(session(7, 6));
  assert.equal(tick(hb, 4_000), 4);
  assert.equal(hb.usedUp, false);
  assert.equal(tick(hb, 60_000), 6);
  assert.equal(hb.usedUp, true);
  assert.equal(tick(hb, 120_000), null);
  assert.equal(hb.signed, 6);
  hb.toppedUp(20);
  assert.equal(hb.usedUp, false);
  assert.equal(tick(hb, 120_000), 20);
  assert.equal(hb.usedUp, true);
});

test('signed never goes down', () => {
  const hb = watching();
  hb.signedUpTo(9);
  hb.signedUpTo(4);
  assert.equal(hb.signed, 9);
});

test('an ack is shown as paid, up to what was signed, and does not raise the target', () => {
  const hb = watching();
  assert.equal(tick(hb, 3_000), 3);
  assert.equal(hb.ack(7, 3), true);
  assert.equal(hb.acked, 3);
  assert.equal(hb.paidSeconds, 3);
  assert.equal(hb.ack(7, 50), true); // more than was signed
  assert.equal(hb.acked, 3);
  assert.equal(hb.paidSeconds, 3);
  assert.equal(hb.signed, 3);
  assert.equal(hb.nextVoucher({ watchedMs: 3_000, nowMs: FAR }), null);
  assert.equal(tick(hb, 4_200), 5); // the page's measure, not 50
});

test('a stale (lower) ack is ignored', () => {
  const hb = watching();
  tick(hb, 8_000);
  assert.equal(hb.ack(7, 5), true);
  assert.equal(hb.ack(7, 2), true);
  assert.equal(hb.acked, 5);
  assert.equal(hb.ack(7, 8), true);
  assert.equal(hb.ack(7, 6), true);
  assert.equal(hb.acked, 8);
  assert.equal(hb.paidSeconds, 8);
});

test('acks for another session, without a session or not a count of seconds are ignored', () => {
  const hb = watching();
  tick(hb, 8_000);
  hb.ack(7, 4);
  for (const bad of [NaN, Infinity, '8', 2.5, null, undefined, { valueOf: () => 8 }]) {
    assert.equal(hb.ack(7, bad), false, String(bad));
  }
  assert.equal(hb.ack(8, 8), false);
  assert.equal(hb.ack(undefined, 8), false);
  assert.equal(hb.acked, 4);
  const none = new Heartbeats();
  assert.equal(none.ack(undefined, 8), false);
  assert.equal(none.acked, 0);
});

test('a refused voucher is reported and changes nothing the page signs', () => {
  const hb = watching();
  assert.equal(tick(hb, 3_000), 3);
  assert.equal(hb.voucherRefused('ahead_of_time'), 'refused');
  assert.equal(hb.voucherRefused('stale'), 'refused');
  assert.equal(hb.voucherRefused('above_max'), 'used_up');
  assert.equal(hb.signed, 3);
  assert.equal(hb.nextVoucher({ watchedMs: 3_000, nowMs: FAR }), null);
  assert.equal(tick(hb, 5_000), 5);
  assert.equal(new Heartbeats().voucherRefused('stale'), null);
});

test('a hostile sidecar (inflated, garbage and stale acks, errors) gets the same vouchers as a silent one', () => {
  const honest = watching();
  const attacked = watching();
  const meter = new WatchMeter();
  const signedHonest = [];
  const signedAttacked = [];
  // 12 s of frames at 25 fps, ticking at each frame, chain time running 2 s ahead of them.
  for (let t = 0; t <= 12_000; t += 40) {
    meter.frame(t);
    const now = OPENED_AT + t + 2_000;
    const a = tick(honest, meter.watchedMs, now);
    if (a !== null) signedHonest.push(a);
    const b = tick(attacked, meter.watchedMs, now);
    if (b !== null) signedAttacked.push(b);
    attacked.ack(7, 1_000_000);
    attacked.ack(7, 0);
    attacked.ack(7, 'lots');
    attacked.ack(7, -5);
    attacked.voucherRefused('ahead_of_time');
    attacked.voucherRefused('above_max');
  }
  assert.deepEqual(signedHonest, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(signedAttacked, signedHonest);
  assert.equal(attacked.signed, 12);
  assert.equal(attacked.acked, 12); // capped at what was signed
  assert.equal(attacked.paidSeconds, 12);
});

test('after a reload it goes on from what the page had signed (or the chain settled, if more)', () => {
  const hb = new Heartbeats();
  hb.resumed(session(7, 100), { storedSigned: 42, settledSeconds: 40 });
  assert.equal(hb.signed, 42);
  assert.equal(hb.settledSeconds, 40);
  assert.equal(hb.acked, 0);
  hb.watch();
  assert.equal(tick(hb, 0), null);
  assert.equal(tick(hb, 1_500), 44);
  // Still capped by the time elapsed since the opening: 45 s.
  assert.equal(tick(hb, 9_000, OPENED_AT + 45_000), 45);
  assert.deepEqual(hb.stored(), { id: 7, signed: 45 });

  const settledMore = new Heartbeats();
  settledMore.resumed(session(), { storedSigned: 10, settledSeconds: 12 });
  assert.equal(settledMore.signed, 12);
  const unreadable = new Heartbeats();
  unreadable.resumed(session(), { storedSigned: 'x', settledSeconds: 3 });
  assert.equal(unreadable.signed, 3);
  const stringStored = new Heartbeats();
  stringStored.resumed(session(), { storedSigned: '20', settledSeconds: 3 });
  assert.equal(stringStored.signed, 20);
});

test('watching again (a reconnect) counts from what was signed, with acks of the old connection dropped', () => {
  const hb = watching();
  assert.equal(tick(hb, 5_000), 5);
  hb.ack(7, 5);
  hb.watch(); // the meter restarts from zero
  assert.equal(hb.acked, 0);
  assert.equal(tick(hb, 0), null);
  assert.equal(tick(hb, 200), 6);
});

test('the close intent is due once per session, and never on a reload', () => {
  const s = session();
  const hb = watching(s);
  tick(hb, 3_000);
  assert.equal(hb.closeIntentDue(), true);
  assert.equal(hb.closeIntentDue({ reloading: true }), false);
  hb.closeIntentSent();
  assert.equal(hb.closeSent, true);
  assert.equal(hb.closeIntentDue(), false);
  hb.left(s);
  assert.equal(hb.session, null);
  assert.equal(hb.closedSession, s);
  assert.equal(hb.shown, s, 'the closed session stays on the counter');
  assert.equal(hb.closeIntentDue(), false);
  assert.equal(hb.nextVoucher({ watchedMs: 60_000, nowMs: FAR }), null);
  assert.equal(hb.signed, 3);
  hb.closedOnChain(3);
  assert.equal(hb.acked, 3);
  assert.equal(hb.settledSeconds, 3);
  assert.equal(hb.paidSeconds, 3);
});

test('a resumed session owes its close intent again', () => {
  const hb = watching();
  hb.closeIntentSent();
  hb.dropped();
  hb.resumed(session(), { storedSigned: 5, settledSeconds: 0 });
  assert.equal(hb.closeIntentDue(), true);
});

test('a new session starts from zero', () => {
  const a = session(7, 100);
  const hb = watching(a);
  assert.equal(tick(hb, 10_000), 10);
  hb.ack(7, 9);
  hb.settledOnChain(7, 8);
  hb.closeIntentSent();
  hb.left(a);
  hb.closedOnChain(9);

  const b = { id: 8, price: 20n, maxSeconds: 50, openedAt: OPENED_AT + 600_000 };
  hb.opened(b);
  assert.equal(hb.session, b);
  assert.equal(hb.closedSession, null);
  assert.equal(hb.shown, b);
  assert.equal(hb.signed, 0);
  assert.equal(hb.acked, 0);
  assert.equal(hb.settledSeconds, 0);
  assert.equal(hb.closeSent, false);
  assert.equal(hb.closeIntentDue(), true);
  assert.deepEqual(hb.stored(), { id: 8, signed: 0 });
  hb.watch();
  // B's own clock: 2 s after B opened, whatever was watched.
  assert.equal(tick(hb, 10_000, OPENED_AT + 602_000), 2);
  assert.equal(hb.ack(7, 10), false); // an ack for A
  assert.equal(hb.acked, 0);
});

test('settled seconds: for the open session only', () => {
  const hb = watching();
  tick(hb, 10_000);
  assert.equal(hb.settledOnChain(7, 6), true);
  assert.equal(hb.settledSeconds, 6);
  assert.equal(hb.settledOnChain(99, 9), false);
  assert.equal(hb.settledSeconds, 6);
  assert.equal(hb.signed, 10, 'settlement does not move what is signed');
  hb.dropped();
  assert.equal(hb.settledOnChain(7, 9), false);
  assert.equal(hb.settledSeconds, 6);
  assert.equal(hb.shown, null);
});

test('joining the room is retried only for errors of a sidecar catching up, a few times', () => {
  for (const code of ['not_found', 'rate_limited', 'chain_unavailable']) {
    assert.equal(joinRetryDelayMs(code, 0), JOIN_RETRY_MS);
    assert.equal(joinRetryDelayMs(code, JOIN_RETRIES - 1), JOIN_RETRY_MS);
    assert.equal(joinRetryDelayMs(code, JOIN_RETRIES), null);
  }
  assert.equal(JOIN_RETRIES, 5);
  assert.equal(JOIN_RETRY_MS, 2000);
  assert.equal(joinRetryDelayMs('forbidden', 0), null);
  assert.equal(joinRetryDelayMs('bad_signature', 0), null);
  assert.equal(joinRetryDelayMs(null, 0), null);
});
