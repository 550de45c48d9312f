/**
 * `pd-bench router`: the real router (the `pd-node --role router` CLI, as its own process, once per
 * `--workers` count) in front of one prefill and one decode node that answer at once (instant-node.ts,
 * on a worker thread here, or elsewhere with --prefill/--decode), against two references measured in
 * the same run: the decode node straight (`direct`: no proxy at all) and nginx proxying to it
 * (`nginx`: one hop by a mature proxy, when nginx is on PATH; nginx-proxy.ts).
 *
 * Decisions:
 * - Every load (a closed-loop concurrency, then an open-loop rate) goes to every target in turn:
 *   direct, then per `--workers` count nginx with as many worker processes and the router; a machine that gets busier during the run
 *   shifts neighbours alike, so ratios within a load are the figures to read.
 * - The router does its whole PD job per request: picks a pair, mints a room, sends both nodes the
 *   request and relays the decode answer; nginx and direct make one exchange with one node. So
 *   "added" (percentile minus direct's at the same load) is all the router costs a client.
 * - CPU per answered request of the target's processes (process-cpu.ts; router workers and nginx
 *   workers included) is reported beside req/s: on a shared machine it is the steady figure.
 * - A short warm-up per target and load (connections, JIT) is not counted. Any failed request fails
 *   the benchmark after the report (a router that errors against instant nodes has no figure).
 * - `--pin`: the proxy under test (nginx's processes, the router's) runs alone on CPU 1, and this
 *   process (load generator and instant nodes) on CPU 0 (cpu-pin.ts). On 2 cores the closed loop
 *   otherwise measures the whole machine; pinned, each proxy's req/s per CPU second it used (the
 *   inverse of its CPU per request) is its throughput per core, and the ratio of the two proxies'
 *   is the per-core comparison. Those columns are reported either way; pinned, they are the proxy's alone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startChildNode, stopChildNode, type ChildNode } from '../../src/cli/child-node.js';
import { withTimeout } from '../../src/util/timeout.js';
import { WorkerActor } from '../../src/util/actor/worker-actor.js';
import { pinProcessTree } from '../cpu-pin.js';
import { machineDuringRun, type Machine } from '../machine.js';
import { processTreeCpuMs } from '../process-cpu.js';
import { closedLoop, type LoadResult } from './closed-loop.js';
import { nginxOnPath, startNginxProxy, type NginxProxy } from './nginx-proxy.js';
import { openLoop } from './open-loop.js';

export interface Upstream {
  prefill: string;
  decode: string;
}

export interface RouterBenchOptions {
  /** Closed-loop clients, one row group each. */
  concurrencies: number[];
  /** Open-loop offered rates (req/s), one row group each; empty: no open loop. */
  rates: number[];
  /** Open loop: most connections per target (requests beyond wait in the client, counted). */
  openConnections: number;
  /** Router processes (`--workers`) to measure, each its own router. */
  workers: number[];
  /** Measure nginx when it is on PATH. */
  nginx: boolean;
  durationS: number;
  warmupS: number;
  /** Where the router (and instant nodes started here) listen. */
  host: string;
  /** Instant nodes running elsewhere (pd-bench router --role upstream); null: start them here. */
  upstream: Upstream | null;
  bootstrapPort: number;
  requestTimeoutMs: number;
  /** Run each proxy alone on PROXY_CPU and this process on BENCH_CPU (the caller checked that pinning works). */
  pin: boolean;
}

/** With --pin: the CPU the proxy under test gets to itself, and the one the load generator and instant nodes share. */
export const PROXY_CPU = 1;
export const BENCH_CPU = 0;

export type LoadMode = 'closed' | 'open';

export interface RouterRow {
  mode: LoadMode;
  /** Clients (closed loop) or offered req/s (open loop). */
  load: number;
  /** `direct`, `nginx` (N workers: `nginx xN`), `router` (N workers: `router xN`). */
  target: string;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** This target's percentile minus direct's at the same load. */
  addedP50Ms: number;
  addedP99Ms: number;
  /** A router's req/s over nginx's with as many workers, same load (null for the references, or without nginx). */
  vsNginx: number | null;
  /** CPU ms of the target's processes per answered request, in us (null for direct: it shares the benchmark's process). */
  cpuUsPerRequest: number | null;
  /** The target's CPU time over the measurement's wall time (1 = one CPU busy throughout). */
  cpuShare: number | null;
  /** A router's throughput per CPU second over nginx's with as many workers, same load: nginx's cpuUsPerRequest over the router's. */
  vsNginxPerCpu: number | null;
  requests: number;
  errors: number;
}

export interface RouterBenchResult {
  machine: Machine;
  options: RouterBenchOptions;
  upstream: Upstream;
  /** Why nginx is not in the rows, or null when it is. */
  nginxSkipped: string | null;
  rows: RouterRow[];
}

interface Target {
  name: string;
  url: string;
  /** Root of the target's processes, for CPU per request; null: not a process of its own. */
  pid: number | null;
  /** The nginx target a router is compared with (as many workers). */
  reference: string | null;
}

const BODY = Buffer.from(JSON.stringify({ text: 'Hello', sampling_params: { temperature: 0, max_new_tokens: 2 } }));
const START_MS = 60_000;
/** The instant nodes close their two HTTP servers on 'stop'. */
const STOP_MS = 10_000;
/** How often a starting multi-worker router's log is checked for all its workers listening. */
const POLL_MS = 50;

export async function runRouterBench(o: RouterBenchOptions, onRow: (row: RouterRow) => void): Promise<RouterBenchResult> {
  const machine = machineDuringRun();
  // Before the instant nodes' worker thread starts, so it inherits the pin.
  if (o.pin) pinProcessTree(process.pid, BENCH_CPU);
  const nodes = o.upstream
    ? null
    : await WorkerActor.spawn<Upstream>({ name: 'instant nodes', url: new URL('./instant-nodes-worker.js', import.meta.url), workerData: o.host, startMs: START_MS, handshake: (m) => m as Upstream });
  const routers: ChildNode[] = [];
  const proxies: NginxProxy[] = [];
  try {
    const upstream: Upstream = o.upstream ?? nodes!.ready;
    const nginxPath = o.nginx ? nginxOnPath() : null;
    const nginxSkipped = !o.nginx ? 'not asked for (--nginx off)' : nginxPath === null ? 'nginx is not on PATH (apt-get install nginx to measure it)' : null;
    if (nginxSkipped !== null) process.stderr.write(`pd-bench router: no nginx reference: ${nginxSkipped}\n`);
    const targets: Target[] = [{ name: 'direct', url: upstream.decode, pid: null, reference: null }];
    for (const workers of o.workers) {
      const suffix = workers === 1 ? '' : ` x${workers}`;
      if (nginxPath !== null) {
        const proxy = await startNginxProxy(nginxPath, upstream.decode, o.host, workers);
        proxies.push(proxy);
        targets.push({ name: `nginx${suffix}`, url: proxy.url, pid: proxy.pid, reference: null });
      }
      const router = await startRouter(upstream, o, workers);
      routers.push(router);
      targets.push({ name: `router${suffix}`, url: router.url, pid: router.child.pid!, reference: nginxPath === null ? null : `nginx${suffix}` });
    }
    const loads: { mode: LoadMode; load: number }[] = [...o.concurrencies.map((load) => ({ mode: 'closed' as const, load })), ...o.rates.map((load) => ({ mode: 'open' as const, load }))];
    const rows: RouterRow[] = [];
    for (const { mode, load } of loads) {
      const run = (url: string, seconds: number): Promise<LoadResult> =>
        mode === 'closed' ? closedLoop(`${url}/generate`, BODY, load, seconds * 1000, o.requestTimeoutMs) : openLoop(`${url}/generate`, BODY, load, seconds * 1000, o.requestTimeoutMs, o.openConnections);
      const measured: { target: Target; result: LoadResult; cpuMs: number | null }[] = [];
      for (const target of targets) {
        if (o.pin && target.pid !== null) pinProcessTree(target.pid, PROXY_CPU);
        await run(target.url, o.warmupS);
        const cpu0 = target.pid === null ? null : processTreeCpuMs(target.pid);
        const result = await run(target.url, o.durationS);
        const cpu1 = target.pid === null ? null : processTreeCpuMs(target.pid);
        measured.push({ target, result, cpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0 });
      }
      const direct = measured[0].result;
      const perSec = (r: LoadResult): number => r.requests / r.seconds;
      const cpuUsPer = (result: LoadResult, cpuMs: number | null): number | null => (cpuMs === null || result.requests === 0 ? null : (cpuMs * 1000) / result.requests);
      for (const { target, result, cpuMs } of measured) {
        const reqPerSec = perSec(result);
        const referenced = measured.find((m) => m.target.name === target.reference);
        const reference = referenced?.result;
        const cpuUsPerRequest = cpuUsPer(result, cpuMs);
        const referenceCpuUs = referenced === undefined ? null : cpuUsPer(referenced.result, referenced.cpuMs);
        const row: RouterRow = {
          mode,
          load,
          target: target.name,
          reqPerSec,
          p50Ms: result.p50Ms,
          p99Ms: result.p99Ms,
          addedP50Ms: result.p50Ms - direct.p50Ms,
          addedP99Ms: result.p99Ms - direct.p99Ms,
          vsNginx: reference === undefined ? null : reqPerSec / perSec(reference),
          cpuUsPerRequest,
          cpuShare: cpuMs === null ? null : cpuMs / 1000 / result.seconds,
          vsNginxPerCpu: cpuUsPerRequest === null || referenceCpuUs === null ? null : referenceCpuUs / cpuUsPerRequest,
          requests: result.requests,
          errors: result.errors,
        };
        rows.push(row);
        onRow(row);
      }
    }
    return { machine: machine(), options: o, upstream, nginxSkipped, rows };
  } finally {
    for (const router of routers) await stopChildNode(router);
    for (const proxy of proxies) await proxy.close();
    await nodes?.stop(() => nodes.worker.postMessage('stop'), STOP_MS);
  }
}

/** The router CLI with `workers` processes, once every worker listens. */
async function startRouter(upstream: Upstream, o: RouterBenchOptions, workers: number): Promise<ChildNode> {
  const router = await startChildNode(
    ['--role', 'router', '--pd-disaggregation', '--prefill', upstream.prefill, String(o.bootstrapPort), '--decode', upstream.decode, '--host', o.host, '--port', '0', '--registry-port', '0', '--log-level', 'info', '--workers', String(workers)],
    START_MS,
  );
  if (workers === 1) return router;
  const allListening = async (): Promise<void> => {
    while (!router.logs.some((line) => line.includes('"msg":"router workers listening"'))) await sleep(POLL_MS);
  };
  try {
    await withTimeout(allListening(), START_MS, `router with ${workers} workers start-up`);
  } catch (err) {
    await stopChildNode(router);
    throw err;
  }
  return router;
}
