/**
 * Queue depth over a run: each node's /metrics is read every 250 ms (by default) for its scheduler
 * gauges, `pd_node_num_running_reqs` (in the running batch) and `pd_node_num_waiting_reqs` (waiting
 * for admission). Decisions:
 * - One loop per node, never two scrapes of a node at once: a node answers /metrics between two
 *   engine steps, so a busy prefill node may take seconds to answer; its samples are then sparser,
 *   not lost, and stamped with the time the answer came (what the gauges describe).
 * - A scrape that fails or takes over 5 s gives no sample; the loop goes on.
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

const SCRAPE_TIMEOUT_MS = 5000;

export class QueueSampler {
  readonly samples: QueueSample[] = [];
  private stopped = false;
  private loops: Promise<void>[] = [];
  private readonly sleepers = new Set<() => void>();

  constructor(
    private readonly nodes: readonly DeploymentNode[],
    private readonly originMs: number,
    private readonly periodMs = 250,
  ) {}

  start(): void {
    this.loops = this.nodes.map((node, i) => this.sample(node, nodeLabel(this.nodes, i)));
  }

  async stop(): Promise<QueueSample[]> {
    this.stopped = true;
    for (const wake of this.sleepers) wake();
    await Promise.all(this.loops);
    this.samples.sort((a, b) => a.tMs - b.tMs);
    return this.samples;
  }

  private async sample(node: DeploymentNode, label: string): Promise<void> {
    while (!this.stopped) {
      const started = performance.now();
      const samples = await scrapeMetrics(node.url, SCRAPE_TIMEOUT_MS);
      if (samples !== null) this.samples.push({ tMs: performance.now() - this.originMs, node: label, running: sumOf(samples, 'pd_node_num_running_reqs') ?? 0, waiting: sumOf(samples, 'pd_node_num_waiting_reqs') ?? 0 });
      const pause = this.periodMs - (performance.now() - started);
      if (pause > 0 && !this.stopped) {
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            this.sleepers.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, pause);
          this.sleepers.add(wake);
        });
      }
    }
  }
}

/** The node's role, with its index among nodes of that role when there are several. */
function nodeLabel(nodes: readonly DeploymentNode[], i: number): string {
  const role = nodes[i].role;
  if (nodes.filter((n) => n.role === role).length === 1) return role;
  return `${role} ${nodes.slice(0, i).filter((n) => n.role === role).length}`;
}
