/**
 * Bounded waits on the scheduler: a wedged worker must turn into a 503, not a request that hangs.
 */
import { HttpError } from './errors.js';

/** A scheduler query (stats, flush) takes microseconds; seconds mean the scheduler is wedged. */
export const SCHEDULER_QUERY_TIMEOUT_MS = 5_000;

export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(503, `${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
