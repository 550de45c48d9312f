/**
 * A query to the scheduler on behalf of an HTTP request (stats, flush, the health probe): bounded in
 * time, and any failure (timeout, dead worker) is a 503, the scheduler being unavailable rather than
 * the route broken.
 */
import { withTimeout } from '../util/timeout.js';
import { HttpError } from './errors.js';

/** A stats or flush round trip takes microseconds; seconds mean the scheduler is wedged. */
export const SCHEDULER_QUERY_TIMEOUT_MS = 5_000;

export async function askScheduler<T>(work: Promise<T>, what: string, timeoutMs = SCHEDULER_QUERY_TIMEOUT_MS): Promise<T> {
  try {
    return await withTimeout(work, timeoutMs, what);
  } catch (err) {
    throw new HttpError(503, `${what} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
