/**
 * `--compare colocated`: the same load against PD and then against a colocated node, and the ratios
 * PD / colocated of the headline figures (below 1 means PD is lower: better for latencies, worse
 * for throughputs). A ratio is null when either side lacks the figure.
 */
import type { RunFigures } from './run-metrics.js';

export interface Comparison {
  numerator: string;
  denominator: string;
  ratios: Record<string, number | null>;
}

const PICKS: Record<string, (f: RunFigures) => number | undefined> = {
  ttftP50: (f) => f.ttftMs?.p50,
  ttftP99: (f) => f.ttftMs?.p99,
  itlP50: (f) => f.itlMs?.p50,
  itlP90: (f) => f.itlMs?.p90,
  itlP99: (f) => f.itlMs?.p99,
  tpotP50: (f) => f.tpotMs?.p50,
  tpotP99: (f) => f.tpotMs?.p99,
  e2eP50: (f) => f.e2eMs?.p50,
  e2eP99: (f) => f.e2eMs?.p99,
  requestsPerS: (f) => f.requestsPerS,
  outputTokensPerS: (f) => f.outputTokensPerS,
};

export function compareRuns(numerator: string, a: RunFigures, denominator: string, b: RunFigures): Comparison {
  const ratios: Record<string, number | null> = {};
  for (const [key, pick] of Object.entries(PICKS)) {
    const x = pick(a);
    const y = pick(b);
    ratios[key] = x !== undefined && y !== undefined && y !== 0 ? x / y : null;
  }
  return { numerator, denominator, ratios };
}
