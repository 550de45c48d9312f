/**
 * Generated tokens per second over a sliding window: SGLang's `sglang:gen_throughput` gauge and `last_gen_throughput` in /get_server_info.
 * Decisions:
 * - SGLang's scheduler sets that gauge from the tokens of its last decode steps; pd-node's HTTP
 *   layer sees tokens as they stream out, so the rate here is the tokens of the last
 *   `TOKEN_RATE_WINDOW_SECS` whole seconds (the current one included) over that window: what a
 *   Prometheus `rate()` of the token counter would show, readable by a dashboard that plots the gauge.
 * - One slot per second in a fixed ring (typed arrays): adding tokens allocates nothing; a slot is
 *   reset when a new second reuses it.
 */

/**
 * The averaging window: long enough that a scrape every 5 s (SGLang's dashboard refresh) never
 * misses tokens, short enough that the gauge falls to 0 soon after load stops.
 */
export const TOKEN_RATE_WINDOW_SECS = 10;

export class TokenRate {
  private readonly counts = new Float64Array(TOKEN_RATE_WINDOW_SECS);
  /** The second (since the clock's origin) whose tokens each slot holds; -1: never used. */
  private readonly seconds = new Float64Array(TOKEN_RATE_WINDOW_SECS).fill(-1);

  add(tokens: number, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % TOKEN_RATE_WINDOW_SECS;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot] += tokens;
  }

  /** Tokens per second over the window ending now. */
  perSecond(nowMs: number): number {
    const oldest = Math.floor(nowMs / 1000) - TOKEN_RATE_WINDOW_SECS;
    let tokens = 0;
    for (let i = 0; i < TOKEN_RATE_WINDOW_SECS; i++) if (this.seconds[i] > oldest) tokens += this.counts[i];
    return tokens / TOKEN_RATE_WINDOW_SECS;
  }
}
