/**
 * Runs a load: each prompt is released at its arrival offset and sent once a slot is free under
 * --max-concurrency (no limit: at once). Every request is awaited (each has its own timeout, so the
 * run always ends); the caller sees progress after each one. Times are relative to `originMs`, the
 * run's start, which the queue sampler and the throughput series share.
 */
import type { BenchPrompt } from './dataset.js';
import { streamGenerate, type RequestRecord } from './stream-client.js';

export interface LoadPlan {
  prompts: readonly BenchPrompt[];
  arrivalsMs: Float64Array;
  maxConcurrency: number | null;
  requestTimeoutMs: number;
}

export interface Progress {
  done: number;
  failed: number;
  total: number;
}

export async function runLoad(url: string, plan: LoadPlan, originMs: number, onProgress: (p: Progress) => void): Promise<RequestRecord[]> {
  const slots = new Slots(plan.maxConcurrency ?? Infinity);
  const progress: Progress = { done: 0, failed: 0, total: plan.prompts.length };
  const one = async (i: number): Promise<RequestRecord> => {
    const wait = originMs + plan.arrivalsMs[i] - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const scheduledMs = plan.arrivalsMs[i];
    await slots.acquire();
    try {
      const record = await streamGenerate(url, plan.prompts[i], i, scheduledMs, originMs, plan.requestTimeoutMs);
      progress.done++;
      if (record.error !== null) progress.failed++;
      onProgress(progress);
      return record;
    } finally {
      slots.release();
    }
  };
  return Promise.all(plan.prompts.map((_, i) => one(i)));
}

/** A counting semaphore; waiters are served first come, first served. */
class Slots {
  private free: number;
  private readonly waiters: (() => void)[] = [];

  constructor(count: number) {
    this.free = count;
  }

  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}
