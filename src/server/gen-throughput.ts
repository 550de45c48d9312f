/**
 * SGLang's `last_gen_throughput` (in /get_server_info's `internal_states`): output tokens per second
 * this node produced lately. Decisions:
 * - Counted over windows of WINDOW_MS; the value is the rate of the window in progress once it spans
 *   any time, else of the last finished one, so a client reading it right after a run sees that run.
 * - Idle time does not dilute the rate: a gap longer than IDLE_GAP_MS between outputs starts a new
 *   window (SGLang likewise measures between its decode log lines, which only run while decoding).
 * - `add` is on the token path: arithmetic only, no allocation.
 */

/** Long enough to smooth step-to-step jitter, short enough to follow a load change within seconds. */
const WINDOW_MS = 10_000;
/** A gap this long between outputs means the node went idle: the window restarts. */
const IDLE_GAP_MS = 1_000;

export class GenThroughput {
  private start = -1;
  private lastAt = 0;
  private tokens = 0;
  private finished = 0;

  /** `count` output tokens produced at `now` (performance.now() milliseconds). */
  add(count: number, now: number): void {
    if (this.start < 0 || now - this.lastAt > IDLE_GAP_MS || now - this.start >= WINDOW_MS) {
      if (this.start >= 0 && this.lastAt > this.start) this.finished = (this.tokens * 1000) / (this.lastAt - this.start);
      // The window opens at this output: its tokens were produced before it, so they are not counted.
      this.start = now;
      this.tokens = 0;
    } else {
      this.tokens += count;
    }
    this.lastAt = now;
  }

  /** Tokens per second. */
  get value(): number {
    return this.lastAt > this.start && this.start >= 0 ? (this.tokens * 1000) / (this.lastAt - this.start) : this.finished;
  }
}
