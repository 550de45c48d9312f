/**
 * The `--json` results document: what was run (command, dataset, load, every target with its nodes
 * and node flags), each run's figures, transfer figures, time series (throughput per second, queue
 * depth samples) and per-request records (lengths, latencies, errors; not every token's time,
 * which would dwarf the rest), and the comparison when there is one. Times are milliseconds,
 * throughputs per second; absent figures are null.
 */
import { writeFileSync } from 'node:fs';
import type { RunResult } from './bench-run.js';
import type { Comparison } from './comparison.js';
import { isCompleted, requestLatencies } from './run-metrics.js';

export interface RunDescription {
  command: string[];
  startedAt: string;
  dataset: Record<string, unknown>;
  load: Record<string, unknown>;
  /** How the compared deployments share the machine (null when not comparing). */
  fairness: string | null;
}

export function resultsDocument(description: RunDescription, runs: readonly RunResult[], comparison: Comparison | null): Record<string, unknown> {
  return {
    tool: 'pd-bench serve',
    ...description,
    runs: runs.map((run) => ({
      label: run.target.label,
      url: run.target.url,
      kind: run.target.kind,
      nodes: run.target.nodes,
      nodeArgs: run.target.nodeArgs,
      model: run.target.model,
      warmupFailed: run.warmupFailed,
      figures: run.figures,
      transfer: run.transfer,
      throughputPerSecond: run.throughput,
      queueDepth: run.queue,
      requests: run.records.map((r) => {
        const latencies = isCompleted(r) ? requestLatencies(r) : null;
        return {
          index: r.index,
          kind: r.kind,
          outputLen: r.outputLen,
          outputTokens: r.tokenTimesMs.length,
          promptTokens: r.promptTokens,
          completionTokens: r.completionTokens,
          finishReason: r.finishReason,
          scheduledMs: r.scheduledMs,
          sentMs: r.sentMs,
          ttftMs: latencies?.ttftMs ?? null,
          e2eMs: latencies?.e2eMs ?? null,
          maxItlMs: latencies?.maxItlMs ?? null,
          tpotMs: latencies?.tpotMs ?? null,
          error: r.error,
        };
      }),
    })),
    comparison,
  };
}

export function writeJsonResults(file: string, doc: Record<string, unknown>): void {
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
}
