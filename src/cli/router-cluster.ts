/**
 * `pd-node --role router --workers N`: N router processes on one port, as nginx's worker_processes,
 * so the router uses more than one core (one Node process proxies on one). Decisions:
 * - node:cluster: the primary accepts connections and hands them to the workers round-robin (Node's
 *   default scheduling on Linux). Node 20's `net` has no `reusePort` (it arrived in Node 22.12), and
 *   round-robin spreads connections evenly where the kernel's SO_REUSEPORT hashing may not.
 * - Workers run this same command line (cluster forks `process.argv`), so they parse the same flags;
 *   each is a whole router (startRouterWithRegistry) with its own membership view, health and
 *   policies. Nothing per request crosses processes: that is what makes N workers scale.
 * - Membership: a hosted registry is hosted once, by the primary (one port for nodes); workers read
 *   it as a remote registry at its published URL, each polling it (N small polls per interval). With
 *   --registry-url (a registry elsewhere, or etcd) each worker opens its own view.
 * - Health per worker: a node one worker finds down is found down by each other worker on its own
 *   first failed connect (then probed by it); probes run only for nodes down or unlisted, so N-fold
 *   probes cost little, and there is no shared state to keep consistent. Load-aware policies see
 *   each worker's own requests in flight, which round-robin connection hand-out keeps comparable.
 * - /metrics: any worker answers for the whole router (src/router/cluster-metrics.ts).
 * - A worker that exits on its own (a crash) stops the router, with the exit logged: a supervisor
 *   restarts the whole router, rather than a router left at a fraction of its capacity unnoticed.
 * - Stop (SIGINT/SIGTERM to the primary): every worker closes as a single router does (its clients
 *   get their answers), bounded by the control timeout plus STOP_GRACE_MS, then the registry closes.
 * - Ready: the primary logs `router workers listening` once every worker listens; each worker logs
 *   its own `router listening` (same URL) as a single router does.
 */
import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { createLogger, type Logger } from '../log/logger.js';
import { serveClusterMetrics } from '../router/cluster-metrics.js';
import type { RegistrySetting, RouterOptions } from '../router/options.js';
import { hostRegistry, routerCurveKeys, startRouterWithRegistry } from '../router/start-router-with-registry.js';
import { withTimeout } from '../util/timeout.js';
import { waitForStopSignal } from './wait-for-signal.js';

/** Where a worker finds the membership: set by the primary in each worker's environment. */
const WORKER_REGISTRY_ENV = 'PD_NODE_ROUTER_WORKER_REGISTRY';
const STOP_MESSAGE = 'pd-node:router-worker-stop';
/** A worker loads the whole router (fastify, zeromq, ...) on a loaded machine: generous, as the other start-up bounds are. */
const WORKER_START_MS = 60_000;
/** Beyond each worker's own bounded close (the control timeout): process exit, log flush. */
const STOP_GRACE_MS = 5_000;

type Options = Omit<RouterOptions, 'nodeSource'>;

/** Runs the primary or, in a forked process, one worker; returns when the router has stopped. */
export async function serveRouterCluster(options: Options, registry: RegistrySetting): Promise<void> {
  if (cluster.isWorker) return serveWorker(options);
  const log = createLogger(options.logLevel, 'pd-node-router');
  const hosted = registry.kind === 'host' ? await hostRegistry(options.host, registry, routerCurveKeys(options, log), log) : null;
  const forWorkers: RegistrySetting = hosted === null ? registry : { kind: 'remote', url: hosted.url };
  serveClusterMetrics();
  const workers: Worker[] = [];
  let stopping = false;
  const crashed = new Promise<void>((resolve) =>
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      log.error({ worker: worker.process.pid, code, signal }, 'a router worker exited; stopping the router');
      process.exitCode = 1;
      resolve();
    }),
  );
  try {
    const listening = Array.from({ length: options.workers }, () => {
      const worker = cluster.fork({ [WORKER_REGISTRY_ENV]: JSON.stringify(forWorkers) });
      workers.push(worker);
      const exited = once(worker, 'exit').then(([code, signal]) => {
        throw new Error(`router worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) before it listened`);
      });
      return Promise.race([once(worker, 'listening').then(([address]) => address as { address: string; port: number }), exited]);
    });
    const addresses = await withTimeout(Promise.all(listening), WORKER_START_MS, `${options.workers} router workers start-up`);
    log.info({ port: addresses[0].port, workers: workers.map((w) => w.process.pid) }, 'router workers listening');
  } catch (err) {
    stopping = true;
    await stopWorkers(workers, options, log);
    await hosted?.close();
    throw err;
  }
  await Promise.race([waitForStopSignal(), crashed]);
  stopping = true;
  await stopWorkers(workers, options, log);
  await hosted?.close();
}

/** One worker: a whole router on the shared port, until the primary (or a signal) stops it. */
async function serveWorker(options: Options): Promise<void> {
  const raw = process.env[WORKER_REGISTRY_ENV];
  if (raw === undefined) throw new Error(`router worker started without ${WORKER_REGISTRY_ENV}`);
  const running = await startRouterWithRegistry(options, JSON.parse(raw) as RegistrySetting);
  const stopMessage = new Promise<void>((resolve) => process.on('message', (m: unknown) => m === STOP_MESSAGE && resolve()));
  // The primary's end (a crash) ends the worker too: nobody would accept its connections any more.
  const orphaned = once(process, 'disconnect');
  await Promise.race([stopMessage, waitForStopSignal(), orphaned]);
  await running.close();
  if (process.connected) process.disconnect();
}

async function stopWorkers(workers: readonly Worker[], options: Options, log: Logger): Promise<void> {
  const alive = workers.filter((w) => w.process.exitCode === null && w.process.signalCode === null);
  const exits = alive.map((w) => once(w, 'exit'));
  for (const w of alive) if (w.isConnected()) w.send(STOP_MESSAGE);
  const boundMs = options.controlTimeoutSecs * 1000 + STOP_GRACE_MS;
  await withTimeout(Promise.all(exits), boundMs, 'router workers stop').catch((err: Error) => {
    log.warn({ problem: err.message }, 'killing router workers that did not stop');
    for (const w of alive) w.process.kill('SIGKILL');
  });
}
