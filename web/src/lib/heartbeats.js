// The viewer page's voucher bookkeeping for its session: what it signed, what the sidecar
// acknowledged, what the chain settled, where it resumes after a reload, whether a close intent
// is still owed. Sans-IO, so that the rules are unit-tested (tests/unit/heartbeats.test.mjs): the
// caller passes the time, the watched milliseconds (meter.js) and the sidecar's replies in, and
// does the signing, sending, storing and rendering itself.

import { voucherTarget } from './meter.js';

/** Sidecar errors worth a retry while it catches up with a session just opened. */
export const RETRYABLE = new Set(['not_found', 'rate_limited', 'chain_unavailable']);
/** How many times, and how long apart, joining the room is retried after such an error. */
export const JOIN_RETRIES = 5;
export const JOIN_RETRY_MS = 2000;

/**
 * The wait before attempt `attempt + 1` to join the room after a sidecar error `code` (null for
 * an error that is not the sidecar's), or null when it is not worth retrying.
 */
export function joinRetryDelayMs(code, attempt) {
  return RETRYABLE.has(code) && attempt < JOIN_RETRIES ? JOIN_RETRY_MS : null;
}

/**
 * The state of the viewing session. `session`: { id, price, maxSeconds, openedAt (chain ms) }
 * while a session of the chosen account is open (being watched, or resumable after a reload).
 * `signed`: the highest cumulative seconds this page signed for it — it moves only by the page's
 * own measure (`voucherTarget`), from `base` (what it had signed before this page life).
 * `acked`: the highest acknowledgement of the sidecar, shown as paid, never above `signed`; it is
 * never an input to what the page signs.
 */
export class Heartbeats {
  #session = null;
  #closedSession = null; // the last closed session, for the counter
  #signed = 0;
  #base = 0;
  #acked = 0;
  #settledSeconds = 0;
  #closeSent = false; // a close intent for `session` left this page

  /** The open session, or null. */
  get session() {
    return this.#session;
  }

  /** The last session this page closed, or null. */
  get closedSession() {
    return this.#closedSession;
  }

  /** The session the counter shows: after leaving, the closed one's final numbers stay. */
  get shown() {
    return this.#session ?? this.#closedSession;
  }

  get signed() {
    return this.#signed;
  }

  get acked() {
    return this.#acked;
  }

  /** The seconds shown as paid: acknowledged, and signed. */
  get paidSeconds() {
    return Math.min(this.#acked, this.#signed);
  }

  /** What the chain settled of the session (shown apart from what was acknowledged). */
  get settledSeconds() {
    return this.#settledSeconds;
  }

  get closeSent() {
    return this.#closeSent;
  }

  /** The escrowed seconds of the open session are all signed: only a top up lets it go on. */
  get usedUp() {
    return this.#session !== null && this.#signed >= this.#session.maxSeconds;
  }

  /** What to keep for a reload (`{ id, signed }`), or null without a session. */
  stored() {
    return this.#session ? { id: this.#session.id, signed: this.#signed } : null;
  }

  /** A session just opened on chain: nothing signed, settled or acknowledged for it yet. */
  opened(session) {
    this.#session = session;
    this.#signed = 0;
    this.#base = 0;
    this.#acked = 0;
    this.#settledSeconds = 0;
    this.#closedSession = null;
    this.#closeSent = false;
  }

  /**
   * A session left open by an earlier visit (a reload), checked on chain by the caller. It goes
   * on from what this page signed for it (`storedSigned`, as stored), or what the chain settled
   * if more — never from the sidecar.
   */
  resumed(session, { storedSigned, settledSeconds }) {
    this.#session = session;
    this.#signed = Math.max(Number(storedSigned) || 0, settledSeconds);
    this.#acked = 0;
    this.#closeSent = false;
    this.#settledSeconds = settledSeconds;
  }

  /**
   * Watching starts (or resumes) in this page's life, with a fresh meter: it counts from what
   * the page had signed. Acknowledgements of an earlier connection no longer count.
   */
  watch() {
    this.#acked = 0;
    this.#base = this.#signed;
  }

  /**
   * The cumulative seconds to sign now, or null when there is nothing new to sign: the page's
   * own measure (`watchedMs` since `watch()`, capped by the chain time `nowMs` since the opening
   * and by the escrowed seconds) above what it signed. Record it with `signedUpTo` once signed.
   */
  nextVoucher({ watchedMs, nowMs }) {
    const s = this.#session;
    if (!s) return null;
    const target = voucherTarget({
      base: this.#base,
      watchedMs,
      nowMs,
      openedAtMs: s.openedAt,
      maxSeconds: s.maxSeconds,
    });
    return target > this.#signed ? target : null;
  }

  /** A voucher for `seconds` (from `nextVoucher`) was signed: `signed` never goes down. */
  signedUpTo(seconds) {
    this.#signed = Math.max(this.#signed, seconds);
  }

  /**
   * The sidecar acknowledged `seconds` of session `sessionId`: shown as paid up to what was
   * signed, never lowered. True when it is about the open session (the counter may change);
   * false for another session or a value that is not a count of seconds.
   */
  ack(sessionId, seconds) {
    if (!this.#session || sessionId !== this.#session.id || !Number.isSafeInteger(seconds)) return false;
    this.#acked = Math.max(this.#acked, Math.min(seconds, this.#signed));
    return true;
  }

  /**
   * The sidecar refused a voucher with `code`: `'used_up'` (the escrow is) or `'refused'` for
   * the viewer to see, null without a session. It changes nothing the page signs: the page keeps
   * signing only what it showed.
   */
  voucherRefused(code) {
    if (!this.#session) return null;
    return code === 'above_max' ? 'used_up' : 'refused';
  }

  /** The chain settled `seconds` of session `sessionId`; false if it is not the open one. */
  settledOnChain(sessionId, seconds) {
    if (!this.#session || this.#session.id !== sessionId) return false;
    this.#settledSeconds = seconds;
    return true;
  }

  /** The open session was topped up on chain: it may now run to `maxSeconds`. */
  toppedUp(maxSeconds) {
    if (this.#session) this.#session.maxSeconds = maxSeconds;
  }

  /**
   * Whether leaving the page still owes a close intent for the open session: not when one left
   * already, nor on a reload (which keeps the session, to be resumed).
   */
  closeIntentDue({ reloading = false } = {}) {
    return this.#session !== null && !this.#closeSent && !reloading;
  }

  /** A close intent for the open session left this page (to the sidecar, the chain or a beacon). */
  closeIntentSent() {
    this.#closeSent = true;
  }

  /** Session `s` was left with its close intent sent: its numbers stay on the counter. */
  left(s) {
    this.#closedSession = s;
    this.#session = null;
  }

  /** The page stops following the open session (closed elsewhere, or another account chosen). */
  dropped() {
    this.#session = null;
  }

  /** The closed session's final settlement: `seconds` paid, acknowledged and settled alike. */
  closedOnChain(seconds) {
    this.#acked = seconds;
    this.#settledSeconds = seconds;
  }
}
