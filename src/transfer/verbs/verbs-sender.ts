/**
 * The verbs backend's sender (prefill side): one link to one receiver, made of one lane (RC queue
 * pair) per device pair, set up through the receiver's QP exchange; writes are one-sided RDMA WRITEs
 * from the local registered pool into the receiver's.
 *
 * Decisions:
 * - Lane i pairs our chosen device i with the receiver's device i (as many lanes as the side with
 *   fewer devices has); stripe-plan.ts stripes large writes across them.
 * - `write` resolves when every lane's last signaled request of that write completed: RC completes
 *   in order, so every byte of the write is then in the receiver's pool.
 * - Writes are posted on this thread (the transfer actor's worker, never the main thread); their
 *   completions are polled by each device's poller worker and reach the lanes as calls from the
 *   completion ring (send-lane.ts), so nothing here polls or spins.
 * - Any failure of the link (a failed completion, named by its verbs status; the receiver closing the
 *   exchange connection, e.g. because its process died; a write timing out, whose bytes could still
 *   land in pages the decode side reuses) fails every pending write with a KvLinkError and kills the
 *   link: the transfer actor then connects afresh. A bad run is a plain Error and touches nothing.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { withTimeout } from '../../util/timeout.js';
import type { KvSender, PageRun, PoolRegion, WriteResult } from '../kv-transfer.js';
import type { VerbsDeviceEndpoint } from './endpoint.js';
import { KvLinkError } from '../link-error.js';
import { checkRuns } from '../run-bounds.js';
import { nextExchange, sendExchange } from './qp-exchange.js';
import { SendLane } from './send-lane.js';
import type { LinkQp, VerbsDevice } from './verbs-device.js';
import { stripeRuns } from './stripe-plan.js';

/** Send-queue depth per lane. */
const SEND_QUEUE_DEPTH = 256;

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
  private readonly lanes: SendLane[];

  private constructor(
    private readonly socket: Socket,
    private readonly devices: readonly VerbsDevice[],
    private readonly links: readonly LinkQp[],
    peerDevices: readonly VerbsDeviceEndpoint[],
    private readonly pool: PoolRegion,
    private readonly peerPages: number,
    private readonly name: string,
  ) {
    this.lanes = links.map((link, i) => new SendLane(devices[i], link, BigInt(peerDevices[i].addr), peerDevices[i].rkey, (reason) => this.fail(reason)));
    socket.on('error', (err) => this.fail(`exchange connection failed: ${err.message}`));
    socket.on('close', () => this.fail('the receiver closed the exchange connection (receiver gone?)'));
  }

  /** Builds the link: TCP to the exchange, a QP per lane, hello (presenting `writer`)/welcome, QPs to RTS. */
  static async connect(peer: VerbsPeer, devices: readonly VerbsDevice[], pool: PoolRegion, timeoutMs: number, writer: string): Promise<VerbsKvSender> {
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
        writer,
        lanes: links.map((l, i) => ({ device: i, qpNum: l.qp.qpNum, psn: l.psn, gid: Buffer.from(devices[i].gid).toString('hex'), lid: devices[i].lid, mtu: devices[i].activeMtu })),
      });
      const reply = await withTimeout(nextExchange(socket), timeoutMs, `${name}: QP exchange`);
      if (reply.type === 'refused') throw new Error(`${name}: refused: ${reply.reason}`);
      if (reply.type !== 'welcome' || reply.lanes.length !== count) throw new Error(`${name}: bad answer to hello`);
      links.forEach((link, i) => {
        const answer = reply.lanes[i];
        const remote = peer.devices[i];
        devices[i].connect(link, answer.mtu, { qpNum: answer.qpNum, psn: answer.psn, gid: Buffer.from(remote.gid, 'hex'), lid: remote.lid });
      });
      return new VerbsKvSender(socket, devices, links, peer.devices, pool, reply.numPages, name);
    } catch (err) {
      socket.destroy();
      links.forEach((link, i) => devices[i].destroyLinkQp(link));
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
      const plan = stripeRuns(runs, this.pool.pageBytes, this.lanes.length);
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
      this.lanes.forEach((lane, i) => lane.enqueue(plan[i], part));
    });
  }

  private partDone(write: PendingWrite): void {
    if (--write.lanesLeft > 0 || !this.pending.delete(write)) return;
    clearTimeout(write.timer);
    write.resolve({ bytes: write.bytes, runs: write.runs, ms: performance.now() - write.start });
  }

  /** Kills the link: every pending write fails with `reason`; the QPs and the connection go. */
  private fail(reason: string): void {
    if (this.broken) return;
    this.broken = reason;
    for (const lane of this.lanes) lane.close();
    for (const write of this.pending) {
      clearTimeout(write.timer);
      write.reject(new KvLinkError(`${this.name}: ${reason}`));
    }
    this.pending.clear();
    this.socket.destroy();
    this.links.forEach((link, i) => this.devices[i].destroyLinkQp(link));
  }

  async close(): Promise<void> {
    this.fail('the sender was closed');
  }
}
