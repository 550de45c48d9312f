/**
 * Main-thread side of the scheduler actor: spawns its worker, routes its messages to per-request
 * listeners, and turns a dead worker into errors for everyone waiting (never a hang). Started,
 * stopped and queried through the one actor helper (src/util/actor/). Queries go over the worker's
 * own port: this thread runs no step long enough to leave a reply queued past its bound.
 *
 * A decode pool in shared memory (the worker reports it first, 'pool_placed') is released here, once
 * the worker has exited however it ended (shutdown, crash, failed start-up): only then has every
 * thread that could touch the mapping (the engine, its ranks, the transfer actor: workers of that
 * worker) stopped. A process that embeds nodes and lives on would otherwise keep each dead node's
 * pool mapped, its fd open and its name in /dev/shm.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { releaseShmRegion, type ShmRegionHandle } from '../../native/shm-region.js';
import type { Logger } from '../../src/log/logger.js';
import { RequestReply } from '../../src/util/actor/request-reply.js';
import { WorkerActor } from '../../src/util/actor/worker-actor.js';
import type { ModelInfo, PdInbound, PdOutbound, SchedulerInbound, SchedulerOutbound, SchedulerStats, GenerateRequest } from './protocol.js';
import type { GenerateEvent, SchedulerClient } from './scheduler-client.js';
import type { SchedulerOptions } from './scheduler-options.js';
import type { SchedulerWorkerData } from './worker-data.js';

const SCHEDULER_WORKER = new URL('./scheduler-worker.js', import.meta.url);
const SHUTTING_DOWN = 'server is shutting down';

export interface WorkerSchedulerTimeouts {
  /** Model load and engine set-up. */
  startMs: number;
  /** Replies to stats / flush queries. */
  queryMs: number;
  /** Graceful shutdown before the worker is terminated. */
  closeMs: number;
  /** The worker's entry (tests use a stand-in that crashes). */
  workerUrl: URL;
}

export const DEFAULT_SCHEDULER_TIMEOUTS: WorkerSchedulerTimeouts = { startMs: 300_000, queryMs: 5_000, closeMs: 5_000, workerUrl: SCHEDULER_WORKER };

export class WorkerSchedulerClient implements SchedulerClient {
  private readonly listeners = new Map<string, (e: GenerateEvent) => void>();
  private readonly queries = new RequestReply<SchedulerOutbound>();
  private dead: string | null = null;
  private markLost!: (reason: string) => void;
  readonly lost = new Promise<string>((resolve) => (this.markLost = resolve));
  private pdHandler: (msg: PdOutbound) => void = () => {};
  readonly model: ModelInfo;

  private constructor(
    private readonly actor: WorkerActor<ModelInfo>,
    /** Prefill: rooms' completion notices, posted by the transfer actor as their last write lands. */
    private readonly notices: MessagePort | null,
    private readonly log: Logger,
    private readonly timeouts: WorkerSchedulerTimeouts,
    pool: ShmRegionHandle | null,
  ) {
    this.model = actor.ready;
    if (pool) void actor.exited.then(() => releasePool(pool, log));
    actor.worker.on('message', (msg: SchedulerOutbound) => this.onMessage(msg));
    notices?.on('message', (msg: PdOutbound) => this.pdHandler(msg));
    actor.onGone((reason) => this.onDeath(reason));
  }

  /** `clusterSecret`: PD roles, the secret their transfer actor proves (read once by the caller). */
  static async start(options: SchedulerOptions, modelDir: string, log: Logger, timeouts = DEFAULT_SCHEDULER_TIMEOUTS, clusterSecret?: Buffer): Promise<WorkerSchedulerClient> {
    const channel = options.role === 'prefill' ? new MessageChannel() : null;
    const workerData: SchedulerWorkerData = { options, modelDir, notices: channel?.port2, clusterSecret: clusterSecret && new Uint8Array(clusterSecret) };
    let pool: ShmRegionHandle | null = null;
    try {
      const actor = await WorkerActor.spawn<ModelInfo>({
        name: 'scheduler worker', url: timeouts.workerUrl, workerData, transferList: channel ? [channel.port2] : [], startMs: timeouts.startMs,
        handshake: (msg) => {
          const m = msg as SchedulerOutbound;
          if (m.type === 'pool_placed') pool = m.region;
          if (m.type === 'ready') return m.model;
          if (m.type === 'init_failed' || m.type === 'crashed') return new Error(`node start-up failed (model ${modelDir}): ${m.message}`);
          return undefined;
        },
      });
      return new WorkerSchedulerClient(actor, channel?.port1 ?? null, log, timeouts, pool);
    } catch (err) {
      // spawn terminated the worker (it has exited) before rejecting.
      if (pool) releasePool(pool, log);
      channel?.port1.close();
      throw err;
    }
  }

  generate(req: GenerateRequest, onEvent: (e: GenerateEvent) => void): void {
    if (this.dead) return onEvent({ type: 'error', status: 503, message: this.dead });
    if (this.listeners.has(req.rid)) return onEvent({ type: 'error', status: 400, message: `request id "${req.rid}" is already in flight` });
    this.listeners.set(req.rid, onEvent);
    this.post({ type: 'generate', req });
  }

  /** Routes the scheduler's PD messages (page lists, notices) to the control plane. */
  onPdMessage(handler: (msg: PdOutbound) => void): void {
    this.pdHandler = handler;
  }

  /** Delivers a PD message from a peer node to the scheduler actor. */
  sendPd(msg: PdInbound): void {
    if (!this.dead) this.post(msg);
  }

  abort(rid: string, reason: string): void {
    if (!this.listeners.delete(rid) || this.dead) return;
    this.post({ type: 'abort', rid, reason });
  }

  async stats(): Promise<SchedulerStats> {
    const msg = await this.query((seq) => ({ type: 'stats', seq }), 'stats');
    if (msg.type !== 'stats') throw new Error(`unexpected reply ${msg.type}`);
    return msg.stats;
  }

  async flushCache(): Promise<boolean> {
    const msg = await this.query((seq) => ({ type: 'flush_cache', seq }), 'flush_cache');
    return msg.type === 'flushed' && msg.ok;
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.onDeath(SHUTTING_DOWN);
    await this.actor.stop(() => this.post({ type: 'shutdown' }), this.timeouts.closeMs);
  }

  private post(msg: SchedulerInbound): void {
    this.actor.worker.postMessage(msg);
  }

  private query(make: (seq: number) => SchedulerInbound, what: string): Promise<SchedulerOutbound> {
    return this.queries.request(`scheduler ${what}`, this.timeouts.queryMs, (seq) => {
      this.post(make(seq));
    });
  }

  private onMessage(msg: SchedulerOutbound): void {
    switch (msg.type) {
      case 'stats':
      case 'flushed':
        this.queries.settle(msg.seq, msg);
        return;
      case 'accepted':
        this.listeners.get(msg.rid)?.({ type: 'accepted', promptTokens: msg.promptTokens });
        return;
      case 'tokens':
        this.listeners.get(msg.rid)?.({ type: 'tokens', ids: msg.ids, text: msg.text, logprobs: msg.logprobs, topLogprobs: msg.topLogprobs, inputTokenLogprobs: msg.inputTokenLogprobs, inputTopLogprobs: msg.inputTopLogprobs });
        return;
      case 'finished':
        this.settle(msg.rid, { type: 'finished', meta: msg.meta });
        return;
      case 'rejected':
        this.settle(msg.rid, { type: 'error', status: 400, message: msg.message });
        return;
      case 'busy':
        this.settle(msg.rid, { type: 'error', status: 503, message: msg.message, retryAfterSecs: msg.retryAfterSecs });
        return;
      case 'failed':
        this.settle(msg.rid, { type: 'error', status: msg.status, message: msg.message, retryAfterSecs: msg.retryAfterSecs });
        return;
      case 'kv_request':
      case 'room_failed_notice':
      case 'kv_verified':
        this.pdHandler(msg);
        return;
      case 'crashed':
        this.onDeath(`scheduler worker crashed: ${msg.message}`);
        return;
      case 'pool_placed':
      case 'ready':
      case 'init_failed':
        return;
    }
  }

  private settle(rid: string, event: GenerateEvent): void {
    const listener = this.listeners.get(rid);
    this.listeners.delete(rid);
    listener?.(event);
  }

  private onDeath(reason: string): void {
    if (this.dead) return;
    this.dead = reason;
    this.notices?.close();
    if (reason !== SHUTTING_DOWN) {
      this.log.error({ reason }, 'scheduler actor is gone');
      this.markLost(reason);
    }
    const waiting = [...this.listeners.values()];
    this.listeners.clear();
    for (const l of waiting) l({ type: 'error', status: 503, message: reason });
    this.queries.close(reason);
  }
}

/** Releases a dead worker's shared-memory pool; a failure is logged (nothing else is left to do with it). */
function releasePool(pool: ShmRegionHandle, log: Logger): void {
  try {
    releaseShmRegion(pool);
  } catch (err) {
    log.error({ shmObject: pool.name, err: (err as Error).message }, 'could not release the KV pool in shared memory');
  }
}
