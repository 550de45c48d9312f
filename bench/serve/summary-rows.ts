/**
 * The rows of the summary table, shared by the stdout table and the HTML report so they cannot
 * disagree: one row per figure, one value per run, and when two runs are compared (PD first,
 * colocated second) the ratio first / second for every latency and throughput row. Null means the
 * figure does not exist for that run (e.g. transfer figures of a colocated node).
 */
import type { Distribution } from './percentiles.js';
import type { RunResult } from './bench-run.js';

export interface SummaryRow {
  label: string;
  values: (number | null)[];
  /** Digits after the point when shown. */
  digits: number;
  /** Shown with a first / second ratio when comparing. */
  ratio: boolean;
}

export function summaryRows(runs: readonly RunResult[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const row = (label: string, value: (r: RunResult) => number | null | undefined, digits: number, ratio = false): void => {
    rows.push({ label, values: runs.map((r) => value(r) ?? null), digits, ratio: ratio && runs.length === 2 });
  };
  const latency = (name: string, pick: (r: RunResult) => Distribution | null): void => {
    for (const stat of ['mean', 'p50', 'p90', 'p99'] as const) row(`${name} ${stat} (ms)`, (r) => pick(r)?.[stat], 2, true);
  };
  row('Requests completed', (r) => r.figures.completed, 0);
  row('Requests failed', (r) => r.figures.failed, 0);
  row('Output length mismatches', (r) => r.figures.lengthMismatches, 0);
  row('Duration (s)', (r) => r.figures.durationS, 2, true);
  row('Request throughput (req/s)', (r) => r.figures.requestsPerS, 3, true);
  row('Input token throughput (tok/s)', (r) => r.figures.inputTokensPerS, 1, true);
  row('Output token throughput (tok/s)', (r) => r.figures.outputTokensPerS, 1, true);
  latency('TTFT', (r) => r.figures.ttftMs);
  latency('ITL', (r) => r.figures.itlMs);
  latency('TPOT', (r) => r.figures.tpotMs);
  latency('E2E', (r) => r.figures.e2eMs);
  if (runs.some((r) => r.figures.goodput !== null)) {
    row('Goodput (req/s)', (r) => r.figures.goodput?.requestsPerSecond, 3, true);
    row('Requests meeting the SLOs (%)', (r) => (r.figures.goodput ? r.figures.goodput.fraction * 100 : null), 1);
  }
  if (runs.some((r) => r.transfer !== null)) {
    row('KV transfer rooms', (r) => r.transfer?.rooms, 0);
    row('KV bytes transferred', (r) => r.transfer?.bytes, 0);
    row('Exposed transfer mean (ms)', (r) => r.transfer?.exposedMs?.mean, 3);
    row('Exposed transfer p50, from buckets (ms)', (r) => r.transfer?.exposedMs?.p50, 3);
    row('Exposed transfer p99, from buckets (ms)', (r) => r.transfer?.exposedMs?.p99, 3);
    row('Exposed transfers over the top bucket', (r) => r.transfer?.exposedMs?.overTopBucket, 0);
    row('KV verify failures', (r) => r.transfer?.verifyFailures, 0);
  }
  return rows;
}

/** first / second, or null when either is missing or the second is 0. */
export function rowRatio(row: SummaryRow): number | null {
  const [a, b] = row.values;
  return row.ratio && a !== null && b !== null && b !== 0 ? a / b : null;
}
