/**
 * Reading a node's Prometheus /metrics text: samples by name and labels, and histograms summed over
 * their label sets. Quantiles of a histogram are estimated as Prometheus' histogram_quantile does:
 * linear interpolation inside the bucket holding the rank (so they are only as fine as the buckets);
 * a rank in the +Inf bucket returns the highest finite bound. Values of a run are the difference of
 * two scrapes (after minus before), so counters left by earlier traffic do not count.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Histogram {
  /** Upper bounds, ascending, the last one +Inf; counts are cumulative as exposed. */
  bounds: number[];
  cumulative: number[];
  sum: number;
  count: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of every series of `name`; null when the metric is absent. */
export function sumOf(samples: readonly Sample[], name: string): number | null {
  let found = false;
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    found = true;
    total += s.value;
  }
  return found ? total : null;
}

/** The histogram `name`, its series summed bucket by bucket; null when absent. */
export function histogramOf(samples: readonly Sample[], name: string): Histogram | null {
  const buckets = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
    const bound = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + s.value);
  }
  if (buckets.size === 0) return null;
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  return { bounds, cumulative: bounds.map((b) => buckets.get(b)!), sum: sumOf(samples, `${name}_sum`) ?? 0, count: sumOf(samples, `${name}_count`) ?? 0 };
}

/** after - before, bucket by bucket (same metric, so the same bounds). */
export function histogramDelta(after: Histogram, before: Histogram | null): Histogram {
  if (before === null) return after;
  return { bounds: after.bounds, cumulative: after.cumulative.map((c, i) => c - (before.cumulative[i] ?? 0)), sum: after.sum - before.sum, count: after.count - before.count };
}

/** Estimated q-quantile (q in [0, 1]); null for an empty histogram. */
export function histogramQuantile(h: Histogram, q: number): number | null {
  const total = h.cumulative[h.cumulative.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  const i = h.cumulative.findIndex((c) => c >= rank);
  const upper = h.bounds[i];
  if (upper === Infinity) return h.bounds.length > 1 ? h.bounds[h.bounds.length - 2] : null;
  const lower = i === 0 ? 0 : h.bounds[i - 1];
  const below = i === 0 ? 0 : h.cumulative[i - 1];
  const inBucket = h.cumulative[i] - below;
  return inBucket > 0 ? lower + (upper - lower) * ((rank - below) / inBucket) : upper;
}

/** GET `url`/metrics, parsed; null if the node does not answer (the caller reports what it has). */
export async function scrapeMetrics(url: string, timeoutMs: number): Promise<Sample[] | null> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? parseMetrics(await res.text()) : null;
  } catch {
    return null;
  }
}
