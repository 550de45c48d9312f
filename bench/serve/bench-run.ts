/**
 * One measured run against one target: the warm-up requests first (sent at once, under the same
 * concurrency limit, and excluded from every figure), then the timed load with the queue depth
 * sampled throughout, and the decode nodes' transfer metrics scraped before and after. A run
 * against a deployment without decode nodes (a colocated node) has no transfer figures.
 */
import type { BenchPrompt } from './dataset.js';
import type { BenchTarget } from './deployment.js';
import type { Slo } from './goodput.js';
import { runLoad, type LoadPlan } from './load-runner.js';
import { ProgressBar } from './progress-bar.js';
import { QueueSampler, type QueueSample } from './queue-sampler.js';
import { runFigures, throughputSeries, type RunFigures } from './run-metrics.js';
import type { RequestRecord } from './stream-client.js';
import { scrapeDecodeNodes, transferFigures, type TransferFigures } from './transfer-figures.js';

export interface Workload {
  warmup: readonly BenchPrompt[];
  prompts: readonly BenchPrompt[];
  arrivalsMs: Float64Array;
  maxConcurrency: number | null;
  requestTimeoutMs: number;
  slo: Slo;
}

export interface RunResult {
  target: BenchTarget;
  figures: RunFigures;
  transfer: TransferFigures | null;
  throughput: { tS: number; outputTokensPerS: number }[];
  queue: QueueSample[];
  records: RequestRecord[];
  warmupFailed: number;
}

export async function benchRun(target: BenchTarget, w: Workload): Promise<RunResult> {
  let warmupFailed = 0;
  if (w.warmup.length > 0) {
    const plan: LoadPlan = { prompts: w.warmup, arrivalsMs: new Float64Array(w.warmup.length), maxConcurrency: w.maxConcurrency, requestTimeoutMs: w.requestTimeoutMs };
    const bar = new ProgressBar(`${target.label} warm-up`);
    warmupFailed = (await runLoad(target.url, plan, performance.now(), (p) => bar.update(p))).filter((r) => r.error !== null).length;
  }
  const decodeUrls = target.nodes.filter((n) => n.role === 'decode').map((n) => n.url);
  const before = await scrapeDecodeNodes(decodeUrls);
  const originMs = performance.now();
  const sampler = new QueueSampler(target.nodes, originMs);
  sampler.start();
  const bar = new ProgressBar(target.label);
  let records: RequestRecord[];
  try {
    records = await runLoad(target.url, { prompts: w.prompts, arrivalsMs: w.arrivalsMs, maxConcurrency: w.maxConcurrency, requestTimeoutMs: w.requestTimeoutMs }, originMs, (p) => bar.update(p));
  } finally {
    await sampler.stop();
  }
  const after = await scrapeDecodeNodes(decodeUrls);
  return {
    target,
    figures: runFigures(records, w.slo),
    transfer: decodeUrls.length > 0 ? transferFigures(before, after) : null,
    throughput: throughputSeries(records),
    queue: sampler.samples,
    records,
    warmupFailed,
  };
}
