/**
 * Worker-thread entry that issues the benchmark's writes, in the place a prefill node's scheduler
 * would: it owns the transfer actor client (so the actor is a worker of a worker, as in a node) and
 * keeps `concurrency` writes in flight, timing each from `write()` to its resolution. The main thread
 * is left with what a node's main thread has during a transfer: nothing, which is what its
 * event-loop delay then shows.
 *
 * Writes are numbered across warm-up and rows (slots keep rotating, see row-plan.ts); a link lands
 * its writes in order, so the last write to complete on a slot is the last to land there.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TransferActorClient } from '../../actors/transfer/transfer-actor-client.js';
import { LatencyRecorder } from '../stats.js';
import { byteLayout } from './byte-layout.js';
import { BENCH_ROOM, BENCH_WRITER } from './protocol.js';
import { KvPool } from '../../src/kv/pool.js';
import type { DriverCall, DriverData, DriverMessage, DriverReply, DriverRequest, PlanSpec, RunResult, StopRule } from './write-driver-protocol.js';
import { RowPlan } from './row-plan.js';

const port = parentPort;
if (!port) throw new Error('write-driver must run in a worker thread');
const data = workerData as DriverData;
const pool = new KvPool(byteLayout(data.pageBytes), data.numPages, data.pool);
const plans = new Map<number, RowPlan>();
let actor: TransferActorClient | null = null;
let issued = 0;

function planOf(spec: PlanSpec): RowPlan {
  let plan = plans.get(spec.size);
  if (!plan) plans.set(spec.size, (plan = new RowPlan(spec.size, data.pageBytes, spec.pattern, data.concurrency, data.maxPoolBytes)));
  return plan;
}

async function run(tx: TransferActorClient, plan: RowPlan, rule: StopRule): Promise<RunResult> {
  const latency = new LatencyRecorder();
  const lastSrc = new Array<number>(plan.dstSlots).fill(-1);
  const first = issued;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const stop = 'writes' in rule ? (): boolean => issued - first >= rule.writes : (): boolean => performance.now() - t0 >= rule.ms;
  const loop = async (): Promise<void> => {
    while (!stop()) {
      const w = issued++;
      const start = performance.now();
      await tx.write('rx', BENCH_WRITER, plan.runs(w), data.writeTimeoutMs, BENCH_ROOM);
      latency.record(performance.now() - start);
      lastSrc[plan.dstSlot(w)] = plan.srcSlot(w);
    }
  };
  await Promise.all(Array.from({ length: data.concurrency }, loop));
  const cpu = process.cpuUsage(cpu0);
  return { writes: latency.count, seconds: (performance.now() - t0) / 1000, cpuUs: cpu.user + cpu.system, latencies: latency.samples(), lastSrc };
}

async function handle(req: DriverRequest): Promise<DriverReply> {
  switch (req.type) {
    case 'connect':
      actor = await TransferActorClient.start(data.transfer, pool, 'warn');
      await actor.connect('rx', req.endpoint, BENCH_WRITER);
      return { type: 'connected' };
    case 'run':
      if (!actor) throw new Error('connect first');
      return { type: 'ran', ...(await run(actor, planOf(req.plan), req.stop)) };
    case 'close':
      await actor?.close();
      actor = null;
      return { type: 'closed' };
  }
}

let queue = Promise.resolve();
port.on('message', ({ id, req }: DriverCall) => {
  queue = queue.then(() =>
    handle(req).then(
      (reply) => {
        port.postMessage({ type: 'reply', id, reply } satisfies DriverMessage);
        if (reply.type === 'closed') port.close();
      },
      (err: Error) => port.postMessage({ type: 'reply', id, reply: { type: 'error', message: err.message } } satisfies DriverMessage),
    ),
  );
});
port.postMessage({ type: 'ready' } satisfies DriverMessage);
