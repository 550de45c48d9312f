/**
 * What every benchmark measures the same way: latency percentiles and the main thread's event-loop
 * delay.
 *
 * Decisions:
 * - Percentiles are nearest-rank over every sample (no sampling, no interpolation).
 * - Event-loop delay comes from perf_hooks.monitorEventLoopDelay at a 1 ms resolution. Node 20's
 *   histogram records the whole interval between its timer's runs, so an idle loop reads about 1 ms:
 *   the resolution is subtracted here, leaving how late the timer ran (what a request on that thread
 *   would wait).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export function percentile(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Latency samples in ms, kept in a growing typed array (recording allocates nothing). */
export class LatencyRecorder {
  private samples = new Float64Array(1024);
  count = 0;

  record(ms: number): void {
    if (this.count === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.count++] = ms;
  }

  /** p50 and p99, in ms. */
  summary(): { p50: number; p99: number } {
    const sorted = this.samples.slice(0, this.count).sort();
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  }
}

const RESOLUTION_MS = 1;

export interface LoopDelay {
  p99Ms: number;
  maxMs: number;
}

/** The calling thread's event-loop delay between `start` and `stop`. */
export class EventLoopDelay {
  private histogram: IntervalHistogram | null = null;

  start(): void {
    this.histogram?.disable();
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
  }

  stop(): LoopDelay {
    const h = this.histogram;
    if (!h) throw new Error('EventLoopDelay.stop without start');
    h.disable();
    this.histogram = null;
    const late = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    return { p99Ms: late(h.percentile(99)), maxMs: late(h.max) };
  }
}
