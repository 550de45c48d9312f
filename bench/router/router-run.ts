/**
 * `pd-bench router`: the real router (the `pd-node --role router` CLI, as its own process) in front of
 * one prefill and one decode node that answer at once (instant-node.ts, on a worker thread here, or
 * elsewhere with --prefill/--decode). Per concurrency, the same request is sent in a closed loop
 * straight to the decode node, then through the router; what the router adds is the difference of
 * the two latency percentiles at the same concurrency, measured in the same run.
 *
 * Decisions:
 * - The router does its whole PD job per request: picks a pair, mints a room, sends both nodes the
 *   request and merges their answers; the direct request is one hop to one node. So "added" is all
 *   the router costs a client, over the hop a client would make anyway.
 * - A short warm-up per concurrency (connections, JIT) is not counted. Any failed request fails the
 *   benchmark after the report (a router that errors against instant nodes has no throughput figure).
 */
import { startChildNode, stopChildNode } from '../../src/cli/child-node.js';
import { WorkerActor } from '../../src/util/actor/worker-actor.js';
import { machineDuringRun, type Machine } from '../machine.js';
import { closedLoop, type LoadResult } from './closed-loop.js';

export interface Upstream {
  prefill: string;
  decode: string;
}

export interface RouterBenchOptions {
  concurrencies: number[];
  durationS: number;
  warmupS: number;
  /** Where the router (and instant nodes started here) listen. */
  host: string;
  /** Instant nodes running elsewhere (pd-bench router --role upstream); null: start them here. */
  upstream: Upstream | null;
  bootstrapPort: number;
  requestTimeoutMs: number;
}

export interface RouterRow {
  concurrency: number;
  reqPerSec: number;
  directReqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  directP50Ms: number;
  directP99Ms: number;
  addedP50Ms: number;
  addedP99Ms: number;
  requests: number;
  errors: number;
}

export interface RouterBenchResult {
  machine: Machine;
  options: RouterBenchOptions;
  upstream: Upstream;
  rows: RouterRow[];
}

const BODY = Buffer.from(JSON.stringify({ text: 'Hello', sampling_params: { temperature: 0, max_new_tokens: 2 } }));
const START_MS = 30_000;
/** The instant nodes close their two HTTP servers on 'stop'. */
const STOP_MS = 10_000;

export async function runRouterBench(o: RouterBenchOptions, onRow: (row: RouterRow) => void): Promise<RouterBenchResult> {
  const machine = machineDuringRun();
  const nodes = o.upstream
    ? null
    : await WorkerActor.spawn<Upstream>({ name: 'instant nodes', url: new URL('./instant-nodes-worker.js', import.meta.url), workerData: o.host, startMs: START_MS, handshake: (m) => m as Upstream });
  try {
    const upstream: Upstream = o.upstream ?? nodes!.ready;
    const router = await startChildNode(
      ['--role', 'router', '--pd-disaggregation', '--prefill', upstream.prefill, String(o.bootstrapPort), '--decode', upstream.decode, '--host', o.host, '--port', '0', '--registry-port', '0', '--log-level', 'info'],
      START_MS,
    );
    const rows: RouterRow[] = [];
    try {
      for (const c of o.concurrencies) {
        const load = (url: string, seconds: number): Promise<LoadResult> => closedLoop(`${url}/generate`, BODY, c, seconds * 1000, o.requestTimeoutMs);
        await load(upstream.decode, o.warmupS);
        const direct = await load(upstream.decode, o.durationS);
        await load(router.url, o.warmupS);
        const routed = await load(router.url, o.durationS);
        const row: RouterRow = {
          concurrency: c,
          reqPerSec: routed.requests / routed.seconds,
          directReqPerSec: direct.requests / direct.seconds,
          p50Ms: routed.p50Ms,
          p99Ms: routed.p99Ms,
          directP50Ms: direct.p50Ms,
          directP99Ms: direct.p99Ms,
          addedP50Ms: routed.p50Ms - direct.p50Ms,
          addedP99Ms: routed.p99Ms - direct.p99Ms,
          requests: routed.requests,
          errors: routed.errors + direct.errors,
        };
        rows.push(row);
        onRow(row);
      }
    } finally {
      await stopChildNode(router);
    }
    return { machine: machine(), options: o, upstream, rows };
  } finally {
    await nodes?.stop(() => nodes.worker.postMessage('stop'), STOP_MS);
  }
}
