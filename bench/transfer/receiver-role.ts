/**
 * The receiving process of `pd-bench transfer` (`--role receiver`): a decode node's transfer side
 * (a pool and a transfer actor listening on it) plus what the baselines need (a plain-socket sink,
 * a one-shot iperf3 server), driven over the control protocol (protocol.ts).
 *
 * Decisions:
 * - It prints `{"control":{"host","port"}}` as its first stdout line (the spawning benchmark reads
 *   it; on another host, pass it to the sender's --peer). Control sessions are served one after
 *   another, each freeing what it built when it closes; with `once` (a receiver the benchmark
 *   spawned) the process exits after its session, so it never outlives its sender.
 * - The main thread does what a decode node's main thread would during a transfer: nothing. The
 *   actor's worker takes the bytes; digests and zeroing run on the main thread between timed phases.
 */
import { createServer, type Server } from 'node:net';
import type { ShmRegion } from '../../native/shm-region.js';
import { TransferActorClient } from '../../actors/transfer/transfer-actor-client.js';
import { KvPool } from '../../src/kv/pool.js';
import { listenOnFreePort } from '../../src/transfer/listen-port.js';
import { transferBackend } from '../../src/transfer/backends.js';
import type { TransferConfig } from '../../src/transfer/transfer-backend.js';
import { EventLoopDelay } from '../stats.js';
import { serveControl } from './control-channel.js';
import { ibWriteBwAvailable, startIbWriteBwServer } from './ib-write-bw.js';
import { iperf3Installed, startIperf3Server } from './iperf3.js';
import { dialSink } from './plain-socket.js';
import { BENCH_ROOM, BENCH_WRITER, type ControlReply, type ControlRequest } from './protocol.js';
import { byteLayout } from './byte-layout.js';
import { rangeDigest } from './row-plan.js';

/** Bound on the sink's dial to the sender. */
const SINK_DIAL_MS = 10_000;

class ReceiverSession {
  private actor: TransferActorClient | null = null;
  private pool: KvPool | null = null;
  private region: ShmRegion | null = null;
  /** The plain-socket sink's destination: memory of the pool's size, not the pool (plain-socket.ts). */
  private sinkRegion: Buffer | null = null;
  private readonly loop = new EventLoopDelay();

  constructor(
    private readonly host: string,
    /** Per backend, the settings this process was started with (its backend flags). */
    private readonly configs: Readonly<Record<string, TransferConfig>>,
  ) {}

  async handle(req: ControlRequest): Promise<ControlReply> {
    switch (req.type) {
      case 'prepare': {
        await this.release();
        const layout = byteLayout(req.pageBytes);
        const placed = transferBackend(req.backend).createPool?.(layout, req.numPages);
        this.pool = placed?.pool ?? new KvPool(layout, req.numPages);
        this.region = placed?.region ?? null;
        this.actor = await TransferActorClient.start(this.configs[req.backend], this.pool, 'warn');
        const endpoint = await this.actor.listen(this.host);
        await this.actor.grant(BENCH_ROOM, BENCH_WRITER, Array.from({ length: req.numPages }, (_, p) => p));
        return { type: 'prepared', endpoint, settings: this.configs[req.backend].settings };
      }
      case 'zero':
        new Uint8Array(this.need().buffer).fill(0);
        return { type: 'zeroed' };
      case 'loop_start':
        this.loop.start();
        return { type: 'loop_started' };
      case 'loop_pause':
        this.loop.pause();
        return { type: 'loop_paused' };
      case 'loop_resume':
        this.loop.resume();
        return { type: 'loop_resumed' };
      case 'loop_stop':
        return { type: 'loop_stopped', loop: this.loop.stop() };
      case 'digest': {
        const pool = this.need();
        return { type: 'digests', digests: req.ranges.map((r) => rangeDigest(pool, r)) };
      }
      case 'sink':
        this.sinkRegion ??= Buffer.alloc(this.need().buffer.byteLength);
        await dialSink(req.host, req.port, req.size, this.sinkRegion, SINK_DIAL_MS);
        return { type: 'sink_dialed' };
      case 'iperf3':
        return iperf3Installed() ? { type: 'iperf3_listening', port: await startIperf3Server(this.host) } : { type: 'iperf3_missing' };
      case 'ib_write_bw':
        return ibWriteBwAvailable() ? { type: 'ib_write_bw_listening', port: await startIbWriteBwServer(this.host, req.run) } : { type: 'ib_write_bw_missing' };
      case 'release':
        await this.release();
        return { type: 'released' };
    }
  }

  async release(): Promise<void> {
    await this.actor?.close();
    this.actor = null;
    this.sinkRegion = null;
    this.region?.unlink();
    this.region?.close();
    this.region = null;
    this.pool = null;
  }

  private need(): KvPool {
    if (!this.pool) throw new Error('no pool: prepare first');
    return this.pool;
  }
}

export async function runReceiver(host: string, controlPort: number, once: boolean, configs: Readonly<Record<string, TransferConfig>>): Promise<void> {
  let control!: Server;
  const done = new Promise<void>((resolve) => {
    control = createServer((socket) => {
      const session = new ReceiverSession(host, configs);
      void serveControl(socket, (req) => session.handle(req))
        .finally(() => session.release())
        .finally(() => {
          if (!once) return;
          control.close();
          resolve();
        });
    });
  });
  const port = await listenOnFreePort(control, host, 5000, 'pd-bench receiver control', controlPort);
  process.stdout.write(`${JSON.stringify({ control: { host, port } })}\n`);
  await done;
}
