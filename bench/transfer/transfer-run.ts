/**
 * `pd-bench transfer` on the sending side: per backend, a receiving process (receiver-process.ts)
 * and a transfer actor here, each over a real pool, then one row per write size: the timed writes,
 * the check that the receiver holds the right bytes, and the baseline of the same bytes in the same
 * run, as the backend's descriptor names it (src/transfer/transfer-backend.ts, BenchBaseline): a
 * Buffer.copy between two buffers of this process (and once more into the receiver's pool mapped
 * here, shm), or a plain single-stream socket between the two processes (tcp, verbs).
 *
 * Decisions:
 * - Writes go through the transfer actor as a prefill node's do, issued from a worker thread as the
 *   scheduler would (write-driver.ts), `concurrency` in flight; both main threads are then as idle
 *   as a node's during a transfer, and their event-loop delay is taken during the timed writes.
 * - Warm-up writes (and a warm-up baseline) touch every slot first (page faults, connections, JIT)
 *   and are not counted.
 * - The timed writes and the baseline alternate in `rounds` shares of the row, so a machine that gets
 *   busier or quieter during a row shifts both figures alike and the ratio stays meaningful.
 * - Baselines run on this process's main thread (between timed phases), as plain code would.
 * - A row whose bytes do not verify fails the benchmark: a fast transfer of wrong bytes is no figure.
 */
import type { ShmRegion } from '../../native/shm-region.js';
import { KvPool } from '../../src/kv/pool.js';
import { transferBackend } from '../../src/transfer/backends.js';
import { areaOf, copyBytes } from '../../src/transfer/shm/copy-segments.js';
import type { BenchBaseline, TransferConfig } from '../../src/transfer/transfer-backend.js';
import { allowedCpus, checkPinned, pinMainThread, type PinnedThreads } from '../cpu-pin.js';
import { machineDuringRun, type Machine } from '../machine.js';
import { EventLoopDelay, latencySummary, type LoopDelay } from '../stats.js';
import { byteLayout } from './byte-layout.js';
import { runIbWriteBwClient } from './ib-write-bw.js';
import { runIperf3Client } from './iperf3.js';
import { streamPlainSocket } from './plain-socket.js';
import { ReceiverProcess, type Peer } from './receiver-process.js';
import { WriteDriver } from './write-driver-client.js';
import type { StopRule } from './write-driver-protocol.js';
import { fillPseudoRandom, RowPlan, type Pattern } from './row-plan.js';

export interface TransferBenchOptions {
  backends: string[];
  sizes: number[];
  pageBytes: number;
  pattern: Pattern;
  concurrency: number;
  durationS: number;
  /** Writes per row instead of a duration. */
  iterations: number | null;
  /** The timed writes and the baseline alternate this many times per row (each a share of it). */
  rounds: number;
  /** Where the receiver listens (spawned receivers). */
  host: string;
  peer: Peer | null;
  iperf3: boolean;
  iperf3Seconds: number;
  /** verbs: also run perftest's ib_write_bw per size when it is there. */
  ibWriteBw: boolean;
  writeTimeoutMs: number;
  /** Bound on the receiver's pool; the sender's holds one slot more. */
  maxPoolBytes: number;
  /** --pin-main: both processes' main threads alone on one CPU, their other threads on the rest (cpu-pin.ts). */
  pinMain: boolean;
  /** Per backend, the sending side's settings (the backend flags given, on the backend's defaults). */
  transfer: Record<string, TransferConfig>;
  /** Those flags as given, for a receiver spawned here (which then uses the same settings on its side). */
  backendArgs: string[];
}

export type BaselineName = BenchBaseline['baseline'];

export interface TransferRow {
  backend: string;
  pattern: Pattern;
  size: number;
  pageBytes: number;
  runsPerWrite: number;
  concurrency: number;
  writes: number;
  seconds: number;
  writesPerSec: number;
  gbps: number;
  p50Ms: number;
  p99Ms: number;
  baseline: BaselineName;
  baselineGbps: number;
  ratio: number;
  /** CPU time of the sending process per timed write (all its threads), us: what the machinery costs, whatever else the machine runs. */
  txCpuUsPerWrite: number;
  /** shm: Buffer.copy of the same runs into the receiver's own pool, mapped in this process (after the check). */
  peerMappingGbps: number | null;
  /** verbs: perftest's ib_write_bw between the same hosts with this size's messages (GB/s), when it ran. */
  ibWriteBwGbps: number | null;
  /** shm: libc's memcpy of the same runs between the Buffer.copy baseline's two buffers, in the same rounds (GB/s). */
  memcpyGbps: number | null;
  senderLoop: LoopDelay;
  receiverLoop: LoopDelay;
  /** Destination slots whose bytes were checked against the source (all of them). */
  verifiedSlots: number;
  /** --pin-main: where the threads of both processes were, read back after pinning. */
  pinned: PinnedThreads[] | null;
  /** The backend's settings on each side (its flags; a receiver spawned here has the sender's). */
  settings: { sender: unknown; receiver: unknown };
}

export interface TransferBenchResult {
  machine: Machine;
  options: TransferBenchOptions;
  rows: TransferRow[];
  /** Single-stream iperf3 between the two hosts (GB/s), when iperf3 ran. */
  iperf3Gbps: number | null;
}

const CONTROL_MS = 60_000;
/**
 * Both processes' main threads alone on the first of the `allowed` CPUs, their other threads on the
 * rest; called once each backend's workers started (a worker made later by a pinned main thread
 * would share its CPU). `allowed` is read before any pinning: a pinned main thread's own list is one CPU.
 */
function pinMainThreads(receiver: ReceiverProcess, allowed: readonly number[]): PinnedThreads[] {
  const [mainCpu, ...others] = allowed;
  const pids = receiver.pid === null ? [process.pid] : [process.pid, receiver.pid];
  return pids.map((pid) => pinMainThread(pid, mainCpu, others));
}

/** The same processes' placement read again (after a row: a thread made during it must not share a main thread's CPU). */
function checkMainThreads(pinned: readonly PinnedThreads[], allowed: readonly number[]): PinnedThreads[] {
  const [mainCpu, ...others] = allowed;
  return pinned.map((p) => checkPinned(p.pid, mainCpu, others));
}

export async function runTransferBench(o: TransferBenchOptions, onRow: (row: TransferRow) => void): Promise<TransferBenchResult> {
  const machine = machineDuringRun();
  const rows: TransferRow[] = [];
  let iperf3Gbps: number | null = null;
  const allowed = o.pinMain ? allowedCpus() : [];
  for (const backend of o.backends) {
    const receiver = o.peer ? await ReceiverProcess.connect(o.peer) : await ReceiverProcess.spawn(o.host, o.backendArgs);
    try {
      const session = await BackendSession.start(backend, o, receiver, allowed);
      try {
        if (transferBackend(backend).bench.reference === 'iperf3' && o.iperf3 && iperf3Gbps === null) iperf3Gbps = await session.iperf3();
        for (const plan of session.plans) {
          const row = await session.row(plan);
          rows.push(row);
          onRow(row);
        }
      } finally {
        await session.close();
      }
    } finally {
      await receiver.close();
    }
  }
  return { machine: machine(), options: o, rows, iperf3Gbps };
}

class BackendSession {
  private readonly loop = new EventLoopDelay();

  private readonly bench: BenchBaseline;

  private constructor(
    private readonly backend: string,
    private readonly o: TransferBenchOptions,
    private readonly receiver: ReceiverProcess,
    readonly plans: RowPlan[],
    private readonly src: KvPool,
    private readonly driver: WriteDriver,
    /** shm: the Buffer.copy baseline's destination. */
    private readonly copyTarget: Buffer | null,
    /** shm: the receiver's pool mapped here too (the second copy baseline). */
    private readonly peerMapping: ShmRegion | null,
    private readonly pinned: PinnedThreads[] | null,
    /** --pin-main: the CPUs this process was allowed before pinning (the first for the main threads). */
    private readonly allowed: readonly number[],
    /** The backend's settings on the receiving side, as it reported them. */
    private readonly receiverSettings: unknown,
  ) {
    this.bench = transferBackend(backend).bench;
  }

  static async start(backend: string, o: TransferBenchOptions, receiver: ReceiverProcess, allowed: readonly number[]): Promise<BackendSession> {
    const plans = o.sizes.map((size) => new RowPlan(size, o.pageBytes, o.pattern, o.concurrency, o.maxPoolBytes));
    const dstPages = Math.max(...plans.map((p) => p.dstSlots * p.pages));
    const srcPages = Math.max(...plans.map((p) => p.srcSlots * p.pages));
    const { endpoint, settings } = await receiver.control.call({ type: 'prepare', backend, pageBytes: o.pageBytes, numPages: dstPages }, CONTROL_MS);
    const src = new KvPool(byteLayout(o.pageBytes), srcPages);
    fillPseudoRandom(src);
    const driver = await WriteDriver.start({
      transfer: o.transfer[backend],
      pool: src.buffer as SharedArrayBuffer,
      pageBytes: o.pageBytes,
      numPages: srcPages,
      concurrency: o.concurrency,
      writeTimeoutMs: o.writeTimeoutMs,
      maxPoolBytes: o.maxPoolBytes,
    });
    try {
      await driver.call({ type: 'connect', endpoint }, 'connected', CONTROL_MS);
      const pinned = o.pinMain ? pinMainThreads(receiver, allowed) : null;
      const { bench } = transferBackend(backend);
      if (bench.baseline === 'Buffer.copy') {
        const target = Buffer.from(new SharedArrayBuffer(dstPages * o.pageBytes));
        return new BackendSession(backend, o, receiver, plans, src, driver, target, bench.mapPeerPool?.(endpoint) ?? null, pinned, allowed, settings);
      }
      return new BackendSession(backend, o, receiver, plans, src, driver, null, null, pinned, allowed, settings);
    } catch (err) {
      await driver.close(CONTROL_MS);
      throw err;
    }
  }

  /** The iperf3 reference, or null (not installed on either side, or it failed: said on stderr). */
  async iperf3(): Promise<number | null> {
    try {
      const reply = await this.receiver.control.call({ type: 'iperf3' }, CONTROL_MS);
      return reply.type === 'iperf3_listening' ? await runIperf3Client(this.receiver.host, reply.port, this.o.iperf3Seconds) : null;
    } catch (err) {
      process.stderr.write(`pd-bench transfer: no iperf3 figure: ${(err as Error).message}\n`);
      return null;
    }
  }

  /** perftest's ib_write_bw with `size` messages (about 64 MiB in all), or null (not there, or it failed: said on stderr). */
  private async ibWriteBw(size: number): Promise<number | null> {
    const run = { size, iterations: Math.min(5000, Math.max(50, Math.ceil((64 << 20) / size))) };
    try {
      const reply = await this.receiver.control.call({ type: 'ib_write_bw', run }, CONTROL_MS);
      return reply.type === 'ib_write_bw_listening' ? await runIbWriteBwClient(this.receiver.host, reply.port, run) : null;
    } catch (err) {
      process.stderr.write(`pd-bench transfer: no ib_write_bw figure: ${(err as Error).message}\n`);
      return null;
    }
  }

  async row(plan: RowPlan): Promise<TransferRow> {
    const control = this.receiver.control;
    await control.call({ type: 'zero' }, CONTROL_MS);
    const spec = { size: plan.size, pattern: plan.pattern };
    await this.driver.call({ type: 'run', plan: spec, stop: { writes: plan.srcSlots + 1 } }, 'ran', this.runTimeoutMs(plan.srcSlots + 1));
    await this.baseline(plan, { writes: plan.srcSlots + 1 });
    if (this.bench.reference === 'memcpy') this.memcpyBaseline(plan, stopWhen({ writes: plan.srcSlots + 1 }));

    const lastSrc = new Array<number>(plan.dstSlots).fill(-1);
    const latencies: Float64Array[] = [];
    const timed = { writes: 0, seconds: 0, cpuUs: 0 };
    const base = { bytes: 0, seconds: 0 };
    const memcpy = { bytes: 0, seconds: 0 };
    await control.call({ type: 'loop_start' }, CONTROL_MS);
    this.loop.start();
    for (let round = 0; round < this.o.rounds; round++) {
      if (round > 0) {
        await control.call({ type: 'loop_resume' }, CONTROL_MS);
        this.loop.resume();
      }
      const r = await this.driver.call({ type: 'run', plan: spec, stop: this.roundRule() }, 'ran', this.runTimeoutMs(this.o.iterations ?? 0));
      this.loop.pause();
      await control.call({ type: 'loop_pause' }, CONTROL_MS);
      timed.writes += r.writes;
      timed.seconds += r.seconds;
      timed.cpuUs += r.cpuUs;
      latencies.push(r.latencies);
      r.lastSrc.forEach((s, d) => {
        if (s >= 0) lastSrc[d] = s;
      });
      const b = await this.baseline(plan, this.roundRule());
      base.bytes += b.bytes;
      base.seconds += b.seconds;
      if (this.bench.reference === 'memcpy') {
        const m = this.memcpyBaseline(plan, stopWhen(this.roundRule()));
        memcpy.bytes += m.bytes;
        memcpy.seconds += m.seconds;
      }
    }
    const senderLoop = this.loop.stop();
    const { loop: receiverLoop } = await control.call({ type: 'loop_stop' }, CONTROL_MS);

    const verifiedSlots = await this.verify(plan, lastSrc);
    const peerMappingGbps = this.peerMapping ? this.peerMappingBaseline(plan) : null;
    const ibWriteBwGbps = this.bench.reference === 'ib_write_bw' && this.o.ibWriteBw ? await this.ibWriteBw(plan.size) : null;
    const gbps = (timed.writes * plan.size) / timed.seconds / 1e9;
    const baselineGbps = base.bytes / base.seconds / 1e9;
    const { p50, p99 } = latencySummary(latencies);
    return {
      backend: this.backend,
      pattern: plan.pattern,
      size: plan.size,
      pageBytes: plan.pageBytes,
      runsPerWrite: plan.runsPerWrite,
      concurrency: this.o.concurrency,
      writes: timed.writes,
      seconds: timed.seconds,
      writesPerSec: timed.writes / timed.seconds,
      gbps,
      p50Ms: p50,
      p99Ms: p99,
      baseline: this.bench.baseline,
      baselineGbps,
      ratio: gbps / baselineGbps,
      txCpuUsPerWrite: timed.cpuUs / timed.writes,
      peerMappingGbps,
      ibWriteBwGbps,
      memcpyGbps: memcpy.seconds > 0 ? memcpy.bytes / memcpy.seconds / 1e9 : null,
      senderLoop,
      receiverLoop,
      verifiedSlots,
      pinned: this.pinned && checkMainThreads(this.pinned, this.allowed),
      settings: { sender: this.o.transfer[this.backend].settings, receiver: this.receiverSettings },
    };
  }

  async close(): Promise<void> {
    this.peerMapping?.close();
    await this.driver.close(CONTROL_MS);
    await this.receiver.control.call({ type: 'release' }, CONTROL_MS).catch(() => {});
  }

  /** One of `rounds` shares of the row (1: the whole row): --duration seconds, or --iterations writes. */
  private roundRule(rounds = this.o.rounds): StopRule {
    const { iterations, durationS } = this.o;
    return iterations === null ? { ms: (durationS * 1000) / rounds } : { writes: Math.ceil(iterations / rounds) };
  }

  /** Bound on a driver run: its duration plus every write timing out once, at worst. */
  private runTimeoutMs(writes: number): number {
    return this.o.durationS * 1000 + (writes + this.o.concurrency) * this.o.writeTimeoutMs + CONTROL_MS;
  }

  private baseline(plan: RowPlan, rule: StopRule): Promise<{ bytes: number; seconds: number }> {
    const stop = stopWhen(rule);
    return this.bench.baseline === 'Buffer.copy' ? Promise.resolve(this.copyBaseline(plan, stop)) : this.socketBaseline(plan, stop);
  }

  /** Every written destination slot must hold its last source slot's bytes, in the plan's order. */
  private async verify(plan: RowPlan, lastSrc: readonly number[]): Promise<number> {
    const slots = [...lastSrc.keys()].filter((d) => lastSrc[d] >= 0);
    const { digests } = await this.receiver.control.call({ type: 'digest', ranges: slots.map((d) => plan.dstRange(d)) }, CONTROL_MS);
    slots.forEach((d, i) => {
      if (digests[i] !== plan.expectedDigest(this.src, lastSrc[d])) {
        throw new Error(`${this.backend}, ${plan.size} B writes: destination slot ${d} does not hold the bytes of source slot ${lastSrc[d]} (the transfer moved wrong bytes)`);
      }
    });
    return slots.length;
  }

  /** Buffer.copy of the same runs from the source pool into a second buffer, on this thread. */
  private copyBaseline(plan: RowPlan, stop: StopTest, to: Buffer = this.copyTarget!): { bytes: number; seconds: number } {
    const from = Buffer.from(this.src.buffer);
    return copyRuns(plan, stop, (dstAt, srcAt, bytes) => from.copy(to, dstAt, srcAt, srcAt + bytes));
  }

  /** libc's memcpy (by address, as the shm backend copies) of the same runs between the same two buffers as copyBaseline. */
  private memcpyBaseline(plan: RowPlan, stop: StopTest): { bytes: number; seconds: number } {
    const [from, to] = [areaOf(this.src.buffer), areaOf(this.copyTarget!.buffer)];
    return copyRuns(plan, stop, (dstAt, srcAt, bytes) => copyBytes(to, dstAt, from, srcAt, bytes));
  }

  /**
   * The copy baseline again, into the memory the shm backend writes (the receiver's pool, a shared
   * mapping), for --duration: tells the cost of that memory from the cost of the transfer machinery.
   * It overwrites the receiver's pool, so it runs after the check.
   */
  private peerMappingBaseline(plan: RowPlan): number {
    const to = Buffer.from(this.peerMapping!.buffer);
    this.copyBaseline(plan, stopWhen({ writes: plan.srcSlots + 1 }), to);
    const r = this.copyBaseline(plan, stopWhen(this.roundRule(1)), to);
    return r.bytes / r.seconds / 1e9;
  }

  /** The same bytes streamed over a plain socket to the receiving process's sink, which dials this process. */
  private async socketBaseline(plan: RowPlan, stop: StopTest): Promise<{ bytes: number; seconds: number }> {
    const views = Array.from({ length: plan.srcSlots }, (_, s) => Buffer.from(this.src.buffer, s * plan.pages * plan.pageBytes, plan.size));
    const host = this.receiver.control.localHost;
    const dial = (port: number): Promise<unknown> => this.receiver.control.call({ type: 'sink', host, port, size: plan.size }, CONTROL_MS);
    return streamPlainSocket(host, dial, plan.size, (k) => views[k % views.length], stop, this.o.writeTimeoutMs);
  }
}

/** Whether a baseline is done, after `done` pieces and `elapsedMs`. */
type StopTest = (done: number, elapsedMs: number) => boolean;

/** Copies the plan's writes, one after another on this thread, with `copy` (byte offsets), until `stop`. */
function copyRuns(plan: RowPlan, stop: StopTest, copy: (dstAt: number, srcAt: number, bytes: number) => void): { bytes: number; seconds: number } {
  const pb = plan.pageBytes;
  const t0 = performance.now();
  let n = 0;
  while (!stop(n, performance.now() - t0)) {
    for (const r of plan.runs(n++)) copy(r.dst * pb, r.src * pb, r.count * pb);
  }
  return { bytes: n * plan.size, seconds: (performance.now() - t0) / 1000 };
}

/** A baseline's stop rule as a test of (pieces done, ms elapsed). */
function stopWhen(rule: StopRule): StopTest {
  return 'writes' in rule ? (n) => n >= rule.writes : (_n, ms) => ms >= rule.ms;
}
