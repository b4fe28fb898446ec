// What the page pays for: the time it actually showed video, measured from the frames the player
// presents (`requestVideoFrameCallback`), never from the sidecar's word. Pure, so that the rules
// are unit-tested (tests/unit/meter.test.mjs).

/** A longer gap between two frames (a stall, a pause, a hidden tab) counts for nothing. */
export const MAX_FRAME_GAP_MS = 1000;

/**
 * Watched time: the sum of the gaps between consecutive presented frames, each gap counted only
 * if it is at most `MAX_FRAME_GAP_MS`. Kept as closed intervals plus the running one (each one a
 * single subtraction), so that summing frame gaps accumulates no rounding.
 */
export class WatchMeter {
  constructor() {
    this.reset();
  }

  /** Starts from zero (a new session watched in this page's life). */
  reset() {
    this.closedMs = 0;
    this.start = null;
    this.last = null;
  }

  /** A frame was presented at `now` (the callback's timestamp, ms). */
  frame(now) {
    if (this.last !== null && now <= this.last) return;
    if (this.last === null || now - this.last > MAX_FRAME_GAP_MS) {
      if (this.last !== null) this.closedMs += this.last - this.start;
      this.start = now;
    }
    this.last = now;
  }

  /** Milliseconds watched since the last `reset()`. */
  get watchedMs() {
    return this.closedMs + (this.last === null ? 0 : this.last - this.start);
  }
}

/**
 * The cumulative seconds the page may sign now: what it had signed for this session before this
 * page life (`base`), plus every second in which it showed a frame (a started second counts, so
 * the first voucher leaves within a frame or two of the first one), never above the seconds
 * elapsed since the session opened on chain (`openedAtMs`, chain time) nor above the seconds
 * paid for. Nothing the sidecar says (acks, errors) is an input.
 */
export function voucherTarget({ base, watchedMs, nowMs, openedAtMs, maxSeconds }) {
  const watched = base + Math.ceil(watchedMs / 1000);
  const elapsed = Math.floor((nowMs - openedAtMs) / 1000);
  return Math.max(0, Math.min(watched, elapsed, maxSeconds));
}
