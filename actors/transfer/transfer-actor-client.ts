/**
 * The scheduler's handle on the transfer actor: spawns the worker over the node's KV pool and turns
 * requests into typed promises (prefill: connect + write; decode: listen, grant, release, cutWriter).
 *
 * Decisions:
 * - Started, stopped and called through the one actor helper (src/util/actor/): start-up bounded
 *   and terminated after; every call bounded (a write by its own timeout plus a grace, so the
 *   worker's more precise error normally wins); a worker that crashes or exits rejects every pending
 *   call and every later one.
 * - Replies come on a MessageChannel rather than the worker's own port, so those already queued can
 *   be read synchronously before a call is judged timed out (request-reply.ts says why); they come
 *   in batches (protocol.ts), each settled by its own id, so one failed reply fails only its call.
 * - Requests leave one per message, at once (reply-batch.ts says why they are not batched).
 * - `start` resolves only once the worker has the pool and the backend (an unknown or unavailable
 *   backend, or an shm segment that cannot be mapped, is a start-up error).
 * - `close` asks the worker to close everything and exit; it is terminated if that takes too long.
 * - `workerUrl` can be replaced (tests use a stand-in worker to kill it mid-call).
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { LogLevel } from '../../src/log/logger.js';
import { loadClusterSecret } from '../../src/security/cluster-secret.js';
import { RequestReply } from '../../src/util/actor/request-reply.js';
import { WorkerActor } from '../../src/util/actor/worker-actor.js';
import type { KvEndpoint, PageRun, PoolRegion, WriteResult } from '../../src/transfer/kv-transfer.js';
import type { TransferConfig } from '../../src/transfer/transfer-backend.js';
import type { FirstToken } from '../scheduler/protocol.js';
import { toPoolSpec } from './pool-spec.js';
import type { RoomTimes } from './room-notices.js';
import { REPLY_TO, type ReplyTo, type TransferReply, type TransferRequest, type TransferStart, type TransferWorkerData } from './protocol.js';

export interface TransferActorOptions {
  /**
   * Spawn until the worker holds pool and backend, and the decode side's listen. Generous: the worker loads modules and, for
   * verbs, libibverbs and the devices, 13-20x slower in the Soft-RoCE VM on a busy host; a worker
   * terminated while koffi loads a library aborts the whole process (koffi 3.3.4 cannot throw
   * into a terminating thread), so this bound must only catch a worker that is really stuck.
   */
  startMs: number;
  /** Bound on the backend's connect (tcp handshake). */
  connectMs: number;
  /** grant, release, cut_writer, close_peer, shutdown. */
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

/** Each call's name in its errors ("transfer actor write timed out after 32 s"), made once rather than per call. */
const CALL_NAME = Object.fromEntries(Object.keys(REPLY_TO).map((type) => [type, `transfer actor ${type}`])) as Record<TransferRequest['type'], string>;

export class TransferActorClient {
  private readonly replies: RequestReply<TransferReply>;
  private closing = false;

  private constructor(private readonly actor: WorkerActor<true>, private readonly port: MessagePort, private readonly options: TransferActorOptions) {
    this.replies = new RequestReply(() => {
      for (let queued = receiveMessageOnPort(port); queued; queued = receiveMessageOnPort(port)) this.onReplies(queued.message as readonly TransferReply[]);
    });
    port.on('message', (batch: readonly TransferReply[]) => this.onReplies(batch));
    actor.onGone((reason) => {
      this.replies.close(this.closing ? 'the transfer actor was closed' : reason);
      port.close();
    });
  }

  static async start(transfer: TransferConfig, pool: PoolRegion, logLevel: LogLevel = 'info', options: Partial<TransferActorOptions> = {}): Promise<TransferActorClient> {
    const o = { ...DEFAULT_TRANSFER_ACTOR_OPTIONS, ...options };
    const spec = toPoolSpec(pool);
    const { port1: port, port2 } = new MessageChannel();
    const clusterSecret = new Uint8Array(o.clusterSecret ?? loadClusterSecret(null).key);
    const workerData: TransferWorkerData = { port: port2, transfer, pool: spec, logLevel, connectTimeoutMs: o.connectMs, clusterSecret, notices: o.notices };
    try {
      const actor = await WorkerActor.spawn<true>({
        name: 'transfer actor', url: o.workerUrl, workerData, transferList: o.notices ? [port2, o.notices] : [port2], readyOn: port, startMs: o.startMs,
        handshake: (msg) => {
          const m = msg as TransferStart;
          if (m.type === 'ready') return true;
          if (m.type === 'start_failed') return new Error(`transfer actor (${transfer.backend}) could not start: ${m.message}`);
          return undefined;
        },
      });
      return new TransferActorClient(actor, port, o);
    } catch (err) {
      port.close();
      throw err;
    }
  }

  /**
   * Decode side: starts the receiver on `host`; resolves with what senders need (publish it).
   * Bounded like start-up: for verbs, listening opens the devices, each with a completion poller
   * worker that loads libibverbs; a listen timing out fails the node's start-up, whose exit
   * terminates that worker, and koffi aborts the process if that happens while it loads.
   */
  async listen(host: string): Promise<KvEndpoint> {
    const reply = await this.call({ type: 'listen', host }, this.options.startMs + this.options.graceMs);
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

  /** Asks the worker to close everything and exit (its reply, then its exit, each within `callMs`); terminates it after that. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.actor.stop(() => this.call({ type: 'shutdown' }, this.options.callMs), 2 * this.options.callMs);
    this.replies.close('the transfer actor was closed');
  }

  private call<K extends TransferRequest['type']>(req: Sendable<K>, timeoutMs: number): Promise<ReplyOf<K>> {
    // The request object is the caller's fresh literal: it gets its id in place (no copy per write).
    const msg = req as RequestOf<K>;
    const reply = this.replies.request(CALL_NAME[req.type], timeoutMs, (id) => {
      msg.id = id;
      this.port.postMessage(msg);
    });
    const expect = REPLY_TO[req.type];
    return reply.then((msg) => {
      if (msg.type === 'failed' || msg.type === 'write_failed') throw new Error(msg.message);
      if (msg.type !== expect) throw new Error(`transfer actor protocol error: ${msg.type} answered a request expecting ${expect}`);
      return msg as ReplyOf<K>;
    });
  }

  private onReplies(batch: readonly TransferReply[]): void {
    for (const reply of batch) this.replies.settle(reply.id, reply);
  }
}
