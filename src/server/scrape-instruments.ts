/**
 * Counters and histograms whose updates allocate nothing, exported through a prom-client Registry.
 * Decisions:
 * - prom-client's own `inc`/`observe` build a label object, a hash string and a closure on every
 *   call, even on a pre-bound child; token metrics are updated on every token and the router's on
 *   every routed request, so these keep plain numbers and typed arrays and build the exposition only
 *   when scraped (`get()`).
 * - Labels have their values fixed up front: one slot per combination, every series exposed from the
 *   start (a known series at 0, not missing, as Prometheus's instrumentation guide asks). Slots are
 *   row-major (the first label's value varies slowest); a caller resolves the slots it updates once,
 *   with `slot(values)`, and updates by index.
 * - A Registry formats any object with `name`, `help`, `type` and `get()` (its default labels, e.g.
 *   `model_name`, are added to every series); prom-client's types list only its own classes, hence
 *   the one cast in `register`.
 * - Histogram buckets are the upper bounds given (`le`, first among a series' labels, as prom-client
 *   writes them), cumulative, plus `+Inf`, as Prometheus wants.
 */
import type { Metric, Registry } from 'prom-client';

/** A label and every value it can take. */
export interface ScrapeLabel {
  readonly name: string;
  readonly values: readonly string[];
}

/** One series' line, as prom-client's Registry reads it. */
export interface Exposed {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** A metric as prom-client's Registry reads it (`get()`). */
export interface Exposition {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Exposed[];
}

function register(registry: Registry, metric: { name: string; get(): Promise<Exposition> }): void {
  registry.registerMetric(metric as unknown as Metric);
}

/** Every combination of the labels' values, in slot order (row-major); one empty set without labels. */
function labelSets(labels: readonly ScrapeLabel[]): Record<string, string>[] {
  let sets: Record<string, string>[] = [{}];
  for (const { name, values } of labels) sets = sets.flatMap((set) => values.map((v) => ({ ...set, [name]: v })));
  return sets;
}

/** The slot of one value per label, in the labels' order; throws on a value not declared. */
function slotOf(metric: string, labels: readonly ScrapeLabel[], values: readonly string[]): number {
  if (values.length !== labels.length) throw new Error(`${metric}: ${labels.length} label values expected, got ${values.length}`);
  let slot = 0;
  labels.forEach(({ name, values: allowed }, i) => {
    const index = allowed.indexOf(values[i]);
    if (index < 0) throw new Error(`${metric}: ${name}="${values[i]}" is not one of its values`);
    slot = slot * allowed.length + index;
  });
  return slot;
}

/** A counter, optionally split by labels whose values are fixed up front (one slot per combination). */
export class ScrapeCounter {
  readonly type = 'counter';
  private readonly labels: readonly ScrapeLabel[];
  private readonly values: Float64Array;

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    ...labels: ScrapeLabel[]
  ) {
    this.labels = labels;
    this.values = new Float64Array(labelSets(labels).length);
    register(registry, this);
  }

  /** The slot of the series with these label values (resolve once, then `incAt`). */
  slot(values: readonly string[]): number {
    return slotOf(this.name, this.labels, values);
  }

  inc(by = 1): void {
    this.values[0] += by;
  }

  /** The series in `slot`; with one label, the one whose value is `label.values[slot]`. */
  incAt(slot: number, by = 1): void {
    this.values[slot] += by;
  }

  get total(): number {
    return this.values.reduce((a, b) => a + b, 0);
  }

  async get(): Promise<Exposition> {
    const values = labelSets(this.labels).map((labels, i) => ({ value: this.values[i], labels }));
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values };
  }
}

export class ScrapeHistogram {
  readonly type = 'histogram';
  private readonly labels: readonly ScrapeLabel[];
  private readonly bounds: Float64Array;
  /** Per slot, observations per bucket (not cumulative); each slot's last bucket is above every bound (+Inf only). */
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly totals: Float64Array;

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    ...labels: ScrapeLabel[]
  ) {
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i] > buckets[i - 1])) throw new Error(`${name}: buckets must increase`);
    this.labels = labels;
    this.bounds = Float64Array.from(buckets);
    const slots = labelSets(labels).length;
    this.counts = new Float64Array(slots * (buckets.length + 1));
    this.sums = new Float64Array(slots);
    this.totals = new Float64Array(slots);
    register(registry, this);
  }

  /** The slot of the series with these label values (resolve once, then `observeAt`). */
  slot(values: readonly string[]): number {
    return slotOf(this.name, this.labels, values);
  }

  observe(value: number): void {
    this.observeMany(value, 1);
  }

  observeAt(slot: number, value: number): void {
    this.record(slot, value, 1);
  }

  /** `n` observations of `value` each (tokens that arrived together share one gap). */
  observeMany(value: number, n: number): void {
    this.record(0, value, n);
  }

  get observations(): number {
    return this.totals.reduce((a, b) => a + b, 0);
  }

  private record(slot: number, value: number, n: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[slot * (this.bounds.length + 1) + i] += n;
    this.sums[slot] += value * n;
    this.totals[slot] += n;
  }

  async get(): Promise<Exposition> {
    const values: Exposed[] = [];
    const bucket = `${this.name}_bucket`;
    labelSets(this.labels).forEach((labels, slot) => {
      const first = slot * (this.bounds.length + 1);
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += this.counts[first + i];
        values.push({ metricName: bucket, value: cumulative, labels: { le: this.bounds[i], ...labels } });
      }
      values.push({ metricName: bucket, value: this.totals[slot], labels: { le: '+Inf', ...labels } });
      values.push({ metricName: `${this.name}_sum`, value: this.sums[slot], labels });
      values.push({ metricName: `${this.name}_count`, value: this.totals[slot], labels });
    });
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}
