/**
 * Summary statistics of a sample: count, mean, p50, p90, p99 (and min, max). Percentiles interpolate
 * linearly between closest ranks (numpy's default, which SGLang's bench_serving uses), so p50 of an
 * even-sized sample is the mean of its two middle values. An empty sample has no statistics (null):
 * the report shows a dash rather than a made-up zero.
 */
export interface Distribution {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** The q-quantile (q in [0, 1]) of an ascending, non-empty array. */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Ascending copy (Float64Array: a numeric sort, never the lexicographic default of Array#sort). */
export function sortedCopy(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

export function distribution(values: readonly number[]): Distribution | null {
  if (values.length === 0) return null;
  const sorted = sortedCopy(values);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: sum / sorted.length,
    min: sorted[0],
    p50: quantileOfSorted(sorted, 0.5),
    p90: quantileOfSorted(sorted, 0.9),
    p99: quantileOfSorted(sorted, 0.99),
    max: sorted[sorted.length - 1],
  };
}
