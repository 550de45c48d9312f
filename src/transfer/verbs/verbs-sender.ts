/**
 * The verbs backend's sender (prefill side): one link to one receiver, made of one lane (RC queue
 * pair) per device pair, set up through the receiver's QP exchange; writes are one-sided RDMA WRITEs
 * from the local registered pool into the receiver's.
 *
 * Decisions:
 * - Lane i pairs our chosen device i with the receiver's device i (as many lanes as the side with
 *   fewer devices has); write-plan.ts stripes large writes across them.
 * - `write` resolves when every lane's last signaled request of that write completed: RC completes
 *   in order, so every byte of the write is then in the receiver's pool.
 * - Completions are polled on this thread (the transfer actor's worker, never the main thread): while
 *   requests are outstanding, polls run from setImmediate for SPIN_MS after the last completion (the
 *   event loop still turns between polls), then every POLL_INTERVAL_MS; nothing runs while idle.
 *   Blocking on the completion channel needs a thread of its own (a poller worker): not done yet.
 * - Any failure of the link (a failed completion, named by its verbs status; the receiver closing the
 *   exchange connection, e.g. because its process died; a write timing out, whose bytes could still
 *   land in pages the decode side reuses) fails every pending write with a KvLinkError and kills the
 *   link: the transfer actor then connects afresh. A bad run is a plain Error and touches nothing.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { withTimeout } from '../../node/timeout.js';
import type { KvSender, PageRun, PoolRegion, VerbsDeviceEndpoint, WriteResult } from '../kv-transfer.js';
import { KvLinkError } from '../link-error.js';
import { checkRuns } from '../run-bounds.js';
import { nextExchange, sendExchange } from './qp-exchange.js';
import { LaneFailure, SendLane } from './send-lane.js';
import { VerbsDevice, type LinkQp } from './verbs-device.js';
import { planWrites } from './write-plan.js';

/** Send-queue depth per lane. */
const SEND_QUEUE_DEPTH = 256;
/** Keep polling back to back this long after the last completion... */
const SPIN_MS = 0.2;
/** ...then this often while requests are outstanding. */
const POLL_INTERVAL_MS = 1;

interface PendingWrite {
  lanesLeft: number;
  bytes: number;
  runs: number;
  start: number;
  timer: NodeJS.Timeout;
  resolve: (r: WriteResult) => void;
  reject: (err: Error) => void;
}

export interface VerbsPeer {
  host: string;
  port: number;
  devices: readonly VerbsDeviceEndpoint[];
}

export class VerbsKvSender implements KvSender {
  private readonly pending = new Set<PendingWrite>();
  private broken: string | null = null;
  private polling = false;
  private lastCompletion = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly links: readonly LinkQp[],
    private readonly lanes: readonly SendLane[],
    private readonly pool: PoolRegion,
    private readonly peerPages: number,
    private readonly name: string,
    private readonly release: () => void,
  ) {
    socket.on('error', (err) => this.fail(`exchange connection failed: ${err.message}`));
    socket.on('close', () => this.fail('the receiver closed the exchange connection (receiver gone?)'));
  }

  /** Builds the link: TCP to the exchange, a QP per lane, hello/welcome, QPs to RTS. */
  static async connect(peer: VerbsPeer, devices: readonly VerbsDevice[], pool: PoolRegion, timeoutMs: number, release: () => void): Promise<VerbsKvSender> {
    const name = `verbs KV link to ${peer.host}:${peer.port}`;
    const count = Math.min(devices.length, peer.devices.length);
    const socket = tcpConnect({ host: peer.host, port: peer.port, noDelay: true });
    socket.on('error', () => {}); // reported by the exchange below
    const links: LinkQp[] = [];
    try {
      if (count === 0) throw new Error(`${name}: the receiver publishes no RDMA device`);
      for (let i = 0; i < count; i++) links.push(devices[i].createLinkQp(SEND_QUEUE_DEPTH));
      sendExchange(socket, {
        type: 'hello',
        pageBytes: pool.pageBytes,
        lanes: links.map((l, i) => ({ device: i, qpNum: l.qp.qpNum, psn: l.psn, gid: Buffer.from(devices[i].gid).toString('hex'), lid: devices[i].lid, mtu: devices[i].activeMtu })),
      });
      const reply = await withTimeout(nextExchange(socket), timeoutMs, `${name}: QP exchange`);
      if (reply.type === 'refused') throw new Error(`${name}: refused: ${reply.reason}`);
      if (reply.type !== 'welcome' || reply.lanes.length !== count) throw new Error(`${name}: bad answer to hello`);
      const lanes = links.map((link, i) => {
        const answer = reply.lanes[i];
        const remote = peer.devices[i];
        devices[i].connect(link, answer.mtu, { qpNum: answer.qpNum, psn: answer.psn, gid: Buffer.from(remote.gid, 'hex'), lid: remote.lid });
        const region = devices[i].region;
        return new SendLane(devices[i].name, link, region.lkey, region.addr, BigInt(remote.addr), remote.rkey, link.qp.capabilities.maxSendWr);
      });
      return new VerbsKvSender(socket, links, lanes, pool, reply.numPages, name, release);
    } catch (err) {
      socket.destroy();
      links.forEach(VerbsDevice.destroyLinkQp);
      release();
      throw err;
    }
  }

  write(runs: readonly PageRun[], timeoutMs: number): Promise<WriteResult> {
    if (this.broken) return Promise.reject(new KvLinkError(`${this.name}: ${this.broken}`));
    let pages: number;
    try {
      pages = checkRuns(runs, this.pool.numPages, this.peerPages);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const plan = planWrites(runs, this.pool.pageBytes, this.lanes.length);
      const write: PendingWrite = {
        lanesLeft: this.lanes.length,
        bytes: pages * this.pool.pageBytes,
        runs: runs.length,
        start: performance.now(),
        timer: setTimeout(() => this.fail(`a write of ${runs.length} runs timed out after ${timeoutMs / 1000} s`), timeoutMs),
        resolve,
        reject,
      };
      this.pending.add(write);
      const part = { done: () => this.partDone(write) };
      try {
        this.lanes.forEach((lane, i) => lane.enqueue(plan[i], part));
      } catch (err) {
        this.fail((err as Error).message);
        return;
      }
      this.schedulePoll();
    });
  }

  private partDone(write: PendingWrite): void {
    if (--write.lanesLeft > 0 || !this.pending.delete(write)) return;
    clearTimeout(write.timer);
    write.resolve({ bytes: write.bytes, runs: write.runs, ms: performance.now() - write.start });
  }

  private schedulePoll(): void {
    if (this.polling || this.broken) return;
    this.polling = true;
    this.lastCompletion = performance.now();
    setImmediate(() => this.pollLanes());
  }

  private pollLanes(): void {
    if (this.broken) return;
    try {
      for (const lane of this.lanes) if (lane.poll() > 0) this.lastCompletion = performance.now();
    } catch (err) {
      this.fail(err instanceof LaneFailure ? err.message : `polling failed: ${(err as Error).message}`);
      return;
    }
    if (!this.lanes.some((l) => l.busy)) {
      this.polling = false;
      return;
    }
    if (performance.now() - this.lastCompletion < SPIN_MS) setImmediate(() => this.pollLanes());
    else setTimeout(() => this.pollLanes(), POLL_INTERVAL_MS);
  }

  /** Kills the link: every pending write fails with `reason`; the QPs and the connection go. */
  private fail(reason: string): void {
    if (this.broken) return;
    this.broken = reason;
    this.polling = false;
    for (const write of this.pending) {
      clearTimeout(write.timer);
      write.reject(new KvLinkError(`${this.name}: ${reason}`));
    }
    this.pending.clear();
    this.socket.destroy();
    this.links.forEach(VerbsDevice.destroyLinkQp);
    this.release();
  }

  async close(): Promise<void> {
    this.fail('the sender was closed');
  }
}
