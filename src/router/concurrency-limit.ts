/**
 * sgl-router's `--max-concurrent-requests`: a bound on the generation requests this router has in
 * flight. Decisions:
 * - Beyond the bound a request is refused at once with 503 and Retry-After (a capacity refusal, as
 *   every pd-node bound), not queued: sgl-router's queue (`--queue-size`, `--queue-timeout-secs`)
 *   would hold the client's connection with no answer; a client or load balancer that gets 503 +
 *   Retry-After can retry elsewhere or later. Those flags are accepted with no effect.
 * - A plain counter: taking and giving back a slot allocates nothing (it runs on every request).
 */

/**
 * Retry-After of a refusal: generation requests on the router's nodes turn over in seconds, and
 * HTTP's header takes whole seconds.
 */
export const CONCURRENCY_RETRY_AFTER_SECS = 1;

export class ConcurrencyLimit {
  private inFlight = 0;

  /** `max` null: no bound. */
  constructor(readonly max: number | null) {}

  /** Takes a slot; false when every slot is taken (the caller refuses the request). */
  tryAcquire(): boolean {
    if (this.max !== null && this.inFlight >= this.max) return false;
    this.inFlight++;
    return true;
  }

  /** Gives a slot back; bound, so it can be a listener without a closure per request. */
  readonly release = (): void => {
    this.inFlight--;
  };
}
