/**
 * /metrics of a router with several worker processes (`--workers N`, src/cli/router-cluster.ts):
 * whichever worker a scrape reaches answers with the whole router's metrics, as one process would.
 * Decisions:
 * - The worker asks the primary over the cluster's IPC channel; the primary collects every worker's
 *   registry with prom-client's AggregatorRegistry and answers with the aggregate. One exposition per
 *   router, not one per worker under a prefix: dashboards and alerts stay the same for any N.
 * - Aggregation follows each metric's `aggregator`: counters and histograms are summed (every worker
 *   counts its own requests); gauges that describe shared state, the same in every worker (the node
 *   gauges: each worker watches the same membership), say `aggregator: 'first'` where they are made.
 * - Bounded: the primary gives up on workers after prom-client's 5 s; the worker's wait is the
 *   router's control timeout, after which the scrape gets 503 (the metrics exist, they are late).
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { HttpError } from '../server/errors.js';
import { withTimeout } from '../util/timeout.js';

const ASK = 'pd-node:router-metrics-ask';
const ANSWER = 'pd-node:router-metrics-answer';

interface Ask {
  type: typeof ASK;
  id: number;
}

interface Answer {
  type: typeof ANSWER;
  id: number;
  text?: string;
  error?: string;
}

function isMessage<T extends Ask | Answer>(type: T['type'], m: unknown): m is T {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
}

/** In the primary: answers every worker's ask with the aggregate of all workers' registries. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage<Ask>(ASK, message)) return;
    const answer = (a: Omit<Answer, 'type' | 'id'>): void => {
      if (worker.isConnected()) worker.send({ type: ANSWER, id: message.id, ...a });
    };
    aggregator.clusterMetrics().then(
      (text) => answer({ text }),
      (err: Error) => answer({ error: err.message }),
    );
  });
}

/** In a worker: offers `registry` to the primary's collection; the returned function renders the whole router's metrics. */
export function clusterMetricsRenderer(registry: Registry, timeoutMs: number): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's answer to the primary's collection in this worker.
  new AggregatorRegistry();
  const waiting = new Map<number, (a: Answer) => void>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (isMessage<Answer>(ANSWER, message)) waiting.get(message.id)?.(message);
  });
  return async () => {
    const id = nextId++;
    const answered = new Promise<Answer>((resolve) => waiting.set(id, resolve));
    if (!process.connected || process.send === undefined) throw new HttpError(503, 'the router is shutting down: no metrics from its other workers');
    process.send({ type: ASK, id } satisfies Ask);
    try {
      const answer = await withTimeout(answered, timeoutMs, 'metrics from every router worker');
      if (answer.text === undefined) throw new Error(answer.error ?? 'no metrics');
      return answer.text;
    } catch (err) {
      throw new HttpError(503, `cannot collect the metrics of every router worker: ${(err as Error).message}`);
    } finally {
      waiting.delete(id);
    }
  };
}
