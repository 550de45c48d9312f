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

/** The middle value of `values` (the lower of the two middles for an even count). */
export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** Latency samples in ms, kept in a growing typed array (recording allocates nothing). */
export class LatencyRecorder {
  private buffer = new Float64Array(1024);
  count = 0;

  record(ms: number): void {
    if (this.count === this.buffer.length) {
      const grown = new Float64Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer[this.count++] = ms;
  }

  /** A copy of the samples recorded. */
  samples(): Float64Array {
    return this.buffer.slice(0, this.count);
  }

  summary(): { p50: number; p99: number } {
    return latencySummary([this.samples()]);
  }
}

/** p50 and p99 (ms) over every sample of every part. */
export function latencySummary(parts: readonly Float64Array[]): { p50: number; p99: number } {
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  all.sort();
  return { p50: percentile(all, 50), p99: percentile(all, 99) };
}

const RESOLUTION_MS = 1;

export interface LoopDelay {
  p99Ms: number;
  maxMs: number;
}

/**
 * The calling thread's event-loop delay while running: between `start` and `stop`, minus pauses.
 * Each running stretch has its own histogram (a re-enabled one would count the pause as one long
 * delay); the result is the highest p99 and the highest max of the stretches.
 */
export class EventLoopDelay {
  private histogram: IntervalHistogram | null = null;
  private stretches: LoopDelay[] = [];

  start(): void {
    this.stretches = [];
    this.resume();
  }

  resume(): void {
    this.histogram?.disable();
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
  }

  pause(): void {
    const h = this.histogram;
    if (!h) throw new Error('EventLoopDelay: not running');
    h.disable();
    this.histogram = null;
    const late = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    this.stretches.push({ p99Ms: late(h.percentile(99)), maxMs: late(h.max) });
  }

  stop(): LoopDelay {
    if (this.histogram) this.pause();
    if (this.stretches.length === 0) throw new Error('EventLoopDelay: start first');
    return { p99Ms: Math.max(...this.stretches.map((s) => s.p99Ms)), maxMs: Math.max(...this.stretches.map((s) => s.maxMs)) };
  }
}
