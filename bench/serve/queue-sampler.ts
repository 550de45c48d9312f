/**
 * Queue depth over a run: every 250 ms (by default) each node's /metrics is read for its scheduler
 * gauges, `pd_node_num_running_reqs` (in the running batch) and `pd_node_num_waiting_reqs` (waiting
 * for admission). Nodes are scraped concurrently, each with a timeout shorter than the period; a
 * node that does not answer in time just has no sample for that tick. Sampling is a timer on the
 * bench's event loop, so it costs the nodes one small HTTP request per tick each.
 */
import { scrapeMetrics, sumOf } from './prometheus-text.js';

export interface DeploymentNode {
  role: string;
  url: string;
}

export interface QueueSample {
  /** Milliseconds from the run's origin. */
  tMs: number;
  /** Which node: its role, and its index among nodes of that role when there are several. */
  node: string;
  running: number;
  waiting: number;
}

export class QueueSampler {
  readonly samples: QueueSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly labels: string[];

  constructor(
    private readonly nodes: readonly DeploymentNode[],
    private readonly originMs: number,
    private readonly periodMs = 250,
  ) {
    this.labels = nodes.map((n, i) => (nodes.filter((m) => m.role === n.role).length > 1 ? `${n.role} ${nodes.slice(0, i).filter((m) => m.role === n.role).length}` : n.role));
  }

  start(): void {
    const tick = (): void => {
      this.inFlight = this.sampleOnce();
    };
    tick();
    this.timer = setInterval(tick, this.periodMs);
  }

  async stop(): Promise<QueueSample[]> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
    return this.samples;
  }

  private async sampleOnce(): Promise<void> {
    const tMs = performance.now() - this.originMs;
    const scraped = await Promise.all(this.nodes.map((n) => scrapeMetrics(n.url, this.periodMs * 0.8)));
    scraped.forEach((samples, i) => {
      if (samples === null) return;
      this.samples.push({ tMs, node: this.labels[i], running: sumOf(samples, 'pd_node_num_running_reqs') ?? 0, waiting: sumOf(samples, 'pd_node_num_waiting_reqs') ?? 0 });
    });
  }
}
