/**
 * The figures of one run, from its request records (warm-up excluded). Definitions, as SGLang's
 * bench_serving has them:
 * - TTFT: sent to first output token. E2E: sent to the end of the stream.
 * - ITL: every gap between consecutive output tokens of a request, all requests pooled.
 * - TPOT per request: (e2e - ttft) / (output tokens - 1), for requests with at least 2 tokens.
 * - Duration: from the run's origin (first arrival) to the last request's end; throughputs are
 *   completed requests, prompt tokens (as the node counted them) and output tokens per second of it.
 * - Throughput over time: output tokens per 1 s bucket of arrival time.
 * A request whose output length differs from the one asked for counts as a length mismatch (with
 * `ignore_eos` it should never happen); failed requests only count as errors, grouped by message.
 */
import { distribution, type Distribution } from './percentiles.js';
import { goodput, type Goodput, type Slo } from './goodput.js';
import type { RequestRecord } from './stream-client.js';

export interface RunFigures {
  requested: number;
  completed: number;
  failed: number;
  lengthMismatches: number;
  durationS: number;
  requestsPerS: number;
  inputTokensPerS: number;
  outputTokensPerS: number;
  totalTokensPerS: number;
  ttftMs: Distribution | null;
  itlMs: Distribution | null;
  tpotMs: Distribution | null;
  e2eMs: Distribution | null;
  goodput: Goodput | null;
  errors: { message: string; count: number }[];
}

/** Per-request latencies of a completed request. */
export interface RequestLatencies {
  ttftMs: number;
  e2eMs: number;
  maxItlMs: number;
  tpotMs: number | null;
}

export function isCompleted(r: RequestRecord): boolean {
  return r.error === null && r.tokenTimesMs.length > 0;
}

export function requestLatencies(r: RequestRecord): RequestLatencies {
  const t = r.tokenTimesMs;
  const ttftMs = t[0] - r.sentMs;
  const e2eMs = r.endMs - r.sentMs;
  let maxItlMs = 0;
  for (let i = 1; i < t.length; i++) maxItlMs = Math.max(maxItlMs, t[i] - t[i - 1]);
  return { ttftMs, e2eMs, maxItlMs, tpotMs: t.length > 1 ? (e2eMs - ttftMs) / (t.length - 1) : null };
}

/** Every inter-token gap of the completed requests, pooled. */
export function pooledItlMs(records: readonly RequestRecord[]): number[] {
  const gaps: number[] = [];
  for (const r of records) {
    if (!isCompleted(r)) continue;
    for (let i = 1; i < r.tokenTimesMs.length; i++) gaps.push(r.tokenTimesMs[i] - r.tokenTimesMs[i - 1]);
  }
  return gaps;
}

export function runFigures(records: readonly RequestRecord[], slo: Slo): RunFigures {
  const completed = records.filter(isCompleted);
  const latencies = completed.map(requestLatencies);
  const durationS = records.reduce((end, r) => Math.max(end, r.endMs), 0) / 1000;
  const perS = (n: number): number => (durationS > 0 ? n / durationS : 0);
  const inputTokens = completed.reduce((s, r) => s + (r.promptTokens ?? 0), 0);
  const outputTokens = completed.reduce((s, r) => s + r.tokenTimesMs.length, 0);
  const errors = new Map<string, number>();
  for (const r of records) if (!isCompleted(r)) errors.set(r.error ?? 'no output token', (errors.get(r.error ?? 'no output token') ?? 0) + 1);
  return {
    requested: records.length,
    completed: completed.length,
    failed: records.length - completed.length,
    lengthMismatches: completed.filter((r) => r.tokenTimesMs.length !== r.outputLen).length,
    durationS,
    requestsPerS: perS(completed.length),
    inputTokensPerS: perS(inputTokens),
    outputTokensPerS: perS(outputTokens),
    totalTokensPerS: perS(inputTokens + outputTokens),
    ttftMs: distribution(latencies.map((l) => l.ttftMs)),
    itlMs: distribution(pooledItlMs(completed)),
    tpotMs: distribution(latencies.flatMap((l) => (l.tpotMs === null ? [] : [l.tpotMs]))),
    e2eMs: distribution(latencies.map((l) => l.e2eMs)),
    goodput: goodput(latencies, durationS, slo),
    errors: [...errors].map(([message, count]) => ({ message, count })),
  };
}

/** Output tokens per second in consecutive 1 s buckets from the origin to the last token. */
export function throughputSeries(records: readonly RequestRecord[]): { tS: number; outputTokensPerS: number }[] {
  const counts: number[] = [];
  for (const r of records) {
    if (!isCompleted(r)) continue;
    for (const t of r.tokenTimesMs) {
      const bucket = Math.max(0, Math.floor(t / 1000));
      while (counts.length <= bucket) counts.push(0);
      counts[bucket]++;
    }
  }
  return counts.map((n, i) => ({ tS: i, outputTokensPerS: n }));
}
