/**
 * Counters and histograms whose updates allocate nothing, exported through a prom-client Registry.
 * Decisions:
 * - prom-client's own `inc`/`observe` build a label object, a hash string and a closure on every
 *   call, even on a pre-bound child; token metrics are updated on every token, so these keep plain
 *   numbers and typed arrays and build the exposition only when scraped (`get()`).
 * - A Registry formats any object with `name`, `help`, `type` and `get()` (its default labels, e.g.
 *   `model_name`, are added to every series); prom-client's types list only its own classes, hence
 *   the one cast in `register`.
 * - Histogram buckets are the upper bounds given (`le`), cumulative, plus `+Inf`, as Prometheus wants.
 */
import type { Metric, Registry } from 'prom-client';

interface Exposed {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface Exposition {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Exposed[];
}

function register(registry: Registry, metric: { name: string; get(): Promise<Exposition> }): void {
  registry.registerMetric(metric as unknown as Metric);
}

/** A counter, optionally split by one label whose values are fixed up front (one slot each). */
export class ScrapeCounter {
  readonly type = 'counter';
  private readonly values: Float64Array;

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly label: { name: string; values: readonly string[] } | null = null,
  ) {
    this.values = new Float64Array(label === null ? 1 : label.values.length);
    register(registry, this);
  }

  inc(by = 1): void {
    this.values[0] += by;
  }

  /** The series whose label value is `label.values[index]`. */
  incAt(index: number, by = 1): void {
    this.values[index] += by;
  }

  get total(): number {
    return this.values.reduce((a, b) => a + b, 0);
  }

  async get(): Promise<Exposition> {
    const { label } = this;
    const values = label === null ? [{ value: this.values[0], labels: {} }] : label.values.map((v, i) => ({ value: this.values[i], labels: { [label.name]: v } }));
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values };
  }
}

export class ScrapeHistogram {
  readonly type = 'histogram';
  private readonly bounds: Float64Array;
  /** Observations per bucket (not cumulative); the last slot is above every bound (+Inf only). */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
  ) {
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i] > buckets[i - 1])) throw new Error(`${name}: buckets must increase`);
    this.bounds = Float64Array.from(buckets);
    this.counts = new Float64Array(buckets.length + 1);
    register(registry, this);
  }

  observe(value: number): void {
    this.observeMany(value, 1);
  }

  /** `n` observations of `value` each (tokens that arrived together share one gap). */
  observeMany(value: number, n: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i] += n;
    this.sum += value * n;
    this.count += n;
  }

  get observations(): number {
    return this.count;
  }

  async get(): Promise<Exposition> {
    const values: Exposed[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i];
      values.push({ metricName: `${this.name}_bucket`, value: cumulative, labels: { le: this.bounds[i] } });
    }
    values.push({ metricName: `${this.name}_bucket`, value: this.count, labels: { le: '+Inf' } });
    values.push({ metricName: `${this.name}_sum`, value: this.sum, labels: {} });
    values.push({ metricName: `${this.name}_count`, value: this.count, labels: {} });
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}
