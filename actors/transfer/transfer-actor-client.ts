/**
 * The scheduler's handle on the transfer actor: spawns the worker over the node's KV pool and turns
 * requests into typed promises (prefill: connect + write; decode: listen, grant, release, cutWriter).
 *
 * Decisions:
 * - Never hangs: every call is bounded (a write by its own timeout plus a grace, so the worker's more
 *   precise error normally wins), and a worker that crashes or exits rejects every pending call and
 *   every later one.
 * - A call times out only if its reply has not arrived: when its timer fires, replies already queued
 *   on the channel are read first (receiveMessageOnPort). The scheduler's thread can be busy in one
 *   forward step for longer than a bound (a long prompt chunk on a loaded host); after such a step
 *   timers run before queued messages, so judging by the timer alone failed connects that had
 *   succeeded in a millisecond. Hence a MessageChannel rather than the worker's own port, which
 *   cannot be read synchronously.
 * - `start` resolves only once the worker has the pool and the backend (an unknown or unavailable
 *   backend, or an shm segment that cannot be mapped, is a start-up error).
 * - `close` asks the worker to close everything and exit; it is terminated if that takes too long.
 * - `workerUrl` can be replaced (tests use a stand-in worker to kill it mid-call).
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { LogLevel } from '../../src/log/logger.js';
import { loadClusterSecret } from '../../src/security/cluster-secret.js';
import { withTimeout } from '../../src/util/timeout.js';
import type { KvEndpoint, PageRun, PoolRegion, WriteResult } from '../../src/transfer/kv-transfer.js';
import type { TransferConfig } from '../../src/transfer/transfer-backend.js';
import type { FirstToken } from '../scheduler/protocol.js';
import { toPoolSpec } from './pool-spec.js';
import type { RoomTimes } from './room-notices.js';
import { REPLY_TO, type ReplyTo, type TransferReply, type TransferRequest, type TransferWorkerData } from './protocol.js';

export interface TransferActorOptions {
  /**
   * Spawn until the worker holds pool and backend. Generous: the worker loads modules and, for
   * verbs, libibverbs and the devices, 13-20x slower in the Soft-RoCE VM on a busy host; a worker
   * terminated while koffi loads a library aborts the whole process (koffi 3.3.4 cannot throw
   * into a terminating thread), so this bound must only catch a worker that is really stuck.
   */
  startMs: number;
  /** Bound on the backend's connect (tcp handshake). */
  connectMs: number;
  /** listen, close_peer, shutdown. */
  callMs: number;
  /** Added to the worker-side bounds (connect, write timeout) for the client-side ones. */
  graceMs: number;
  workerUrl: URL;
  /** Prefill: the port rooms' completion notices are posted to (see room-notices.ts). */
  notices?: MessagePort;
  /** The cluster secret's bytes (undefined: this host's default secret, loadClusterSecret(null)). */
  clusterSecret?: Buffer;
}

export const DEFAULT_TRANSFER_ACTOR_OPTIONS: TransferActorOptions = {
  startMs: 120_000,
  connectMs: 10_000,
  callMs: 5_000,
  graceMs: 2_000,
  workerUrl: new URL('./transfer-worker.js', import.meta.url),
};

type RequestOf<K extends TransferRequest['type']> = Extract<TransferRequest, { type: K }>;
type ReplyOf<K extends TransferRequest['type']> = Extract<TransferReply, { type: ReplyTo[K] }>;
type Sendable<K extends TransferRequest['type']> = Omit<RequestOf<K>, 'id'> & { type: K };

interface Pending {
  expect: TransferReply['type'];
  resolve: (reply: TransferReply) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class TransferActorClient {
  private readonly pending = new Map<number, Pending>();
  private lastId = 0;
  private dead: string | null = null;
  private closing = false;

  private constructor(private readonly worker: Worker, private readonly port: MessagePort, private readonly options: TransferActorOptions) {
    port.on('message', (msg: TransferReply) => this.onReply(msg));
    worker.on('error', (err) => this.die(`transfer actor crashed: ${err.message}`));
    worker.on('exit', (code) => this.die(this.closing ? 'the transfer actor was closed' : `transfer actor exited with code ${code}`));
  }

  static async start(transfer: TransferConfig, pool: PoolRegion, logLevel: LogLevel = 'info', options: Partial<TransferActorOptions> = {}): Promise<TransferActorClient> {
    const o = { ...DEFAULT_TRANSFER_ACTOR_OPTIONS, ...options };
    const spec = toPoolSpec(pool);
    const { port1: port, port2 } = new MessageChannel();
    const clusterSecret = new Uint8Array(o.clusterSecret ?? loadClusterSecret(null).key);
    const workerData: TransferWorkerData = { port: port2, transfer, pool: spec, logLevel, connectTimeoutMs: o.connectMs, clusterSecret, notices: o.notices };
    const worker = new Worker(o.workerUrl, { workerData, transferList: o.notices ? [port2, o.notices] : [port2] });
    let onMessage: (msg: TransferReply) => void = () => {};
    let onError: (err: Error) => void = () => {};
    let onExit: (code: number) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      onMessage = (msg) => {
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'start_failed') reject(new Error(`transfer actor (${transfer.backend}) could not start: ${msg.message}`));
      };
      onError = reject;
      onExit = (code) => reject(new Error(`transfer actor exited with code ${code} during start-up`));
      port.on('message', onMessage);
      worker.on('error', onError).on('exit', onExit);
    });
    try {
      await withTimeout(ready, o.startMs, `transfer actor (${transfer.backend}) start-up`);
      return new TransferActorClient(worker, port, o);
    } catch (err) {
      await worker.terminate();
      port.close();
      throw err;
    } finally {
      port.off('message', onMessage);
      worker.off('error', onError).off('exit', onExit);
    }
  }

  /** Decode side: starts the receiver on `host`; resolves with what senders need (publish it). */
  async listen(host: string): Promise<KvEndpoint> {
    const reply = await this.call({ type: 'listen', host }, this.options.callMs + this.options.graceMs);
    return reply.endpoint;
  }

  /** Prefill side: links to a decode node's pool as `writer` (reused by later calls for the same peer and writer). */
  async connect(peerId: string, endpoint: KvEndpoint, writer: string): Promise<void> {
    await this.call({ type: 'connect', peerId, endpoint, writer }, this.options.connectMs + this.options.graceMs);
  }

  /** Resolves once the runs are in the peer's pool; `room` is checked against the receiver's grant and tags the write for its room's notice. */
  async write(peerId: string, writer: string, runs: readonly PageRun[], timeoutMs: number, room: string): Promise<WriteResult> {
    const { bytes, runs: n, ms } = await this.call({ type: 'write', peerId, writer, runs, timeoutMs, room }, timeoutMs + this.options.graceMs);
    return { bytes, runs: n, ms };
  }

  /**
   * The room's last write was issued: the actor sends its completion notice (with `first`) the
   * moment they have all landed, or forgets the room (`first` null). Resolves with whether it sent
   * the notice; bounded by `timeoutMs` (the writes' own bound) plus the grace.
   */
  async endRoom(room: string, peerId: string, first: FirstToken | null, times: RoomTimes, timeoutMs: number): Promise<boolean> {
    return (await this.call({ type: 'end_room', room, peerId, first, times }, timeoutMs + this.options.graceMs)).notified;
  }

  /** Decode side: lets `writer` write `room` into exactly `pageIds`; resolves once the receiver holds the grant. */
  async grant(room: string, writer: string, pageIds: readonly number[]): Promise<void> {
    await this.call({ type: 'grant', room, writer, pageIds }, this.options.callMs);
  }

  /** Decode side: ends the room's grant; true once no byte of it can land any more (KvReceiver.release). */
  async release(room: string, how: 'confirmed' | 'unconfirmed'): Promise<boolean> {
    return (await this.call({ type: 'release', room, how }, this.options.callMs)).done;
  }

  /** Decode side: the writer is lost; true once none of its bytes can land any more (KvReceiver.cutWriter). */
  async cutWriter(writer: string): Promise<boolean> {
    return (await this.call({ type: 'cut_writer', writer }, this.options.callMs)).done;
  }

  /** Prefill side: closes and forgets the link to `peerId` (a lost decode node); its writes in flight fail. */
  async closePeer(peerId: string): Promise<void> {
    await this.call({ type: 'close_peer', peerId }, this.options.callMs);
  }

  async close(): Promise<void> {
    if (this.dead || this.closing) return;
    this.closing = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    try {
      await this.call({ type: 'shutdown' }, this.options.callMs);
      await withTimeout(exited, this.options.callMs, 'transfer actor exit');
    } catch {
      await this.worker.terminate();
    }
    this.die('the transfer actor was closed');
  }

  private call<K extends TransferRequest['type']>(req: Sendable<K>, timeoutMs: number): Promise<ReplyOf<K>> {
    if (this.dead) return Promise.reject(new Error(this.dead));
    const id = ++this.lastId;
    const expect = REPLY_TO[req.type];
    const reply = new Promise<TransferReply>((resolve, reject) => {
      const timer = setTimeout(() => this.expire(id, `transfer actor ${req.type} timed out after ${timeoutMs / 1000} s`), timeoutMs);
      this.pending.set(id, { expect, resolve, reject, timer });
    });
    this.port.postMessage({ ...req, id } as TransferRequest);
    return reply as Promise<ReplyOf<K>>;
  }

  /** A call's timer fired: it fails only if its reply is not already waiting on the channel. */
  private expire(id: number, message: string): void {
    this.readQueuedReplies();
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.reject(new Error(message));
  }

  private readQueuedReplies(): void {
    for (let queued = receiveMessageOnPort(this.port); queued; queued = receiveMessageOnPort(this.port)) this.onReply(queued.message as TransferReply);
  }

  private onReply(msg: TransferReply): void {
    if (!('id' in msg)) return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.type === 'failed' || msg.type === 'write_failed') p.reject(new Error(msg.message));
    else if (msg.type !== p.expect) p.reject(new Error(`transfer actor protocol error: ${msg.type} answered a request expecting ${p.expect}`));
    else p.resolve(msg);
  }

  /** Replies the worker sent before it went still count; every other pending call fails with `reason`. */
  private die(reason: string): void {
    if (this.dead) return;
    this.readQueuedReplies();
    this.dead = reason;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
    this.pending.clear();
    this.port.close();
  }
}
