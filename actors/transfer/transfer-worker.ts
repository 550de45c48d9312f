/**
 * Worker-thread entry of the transfer actor: owns the backend's sender links (one per decode peer)
 * and, on a decode node, the receiver, so copies and socket writes of the data path never run on the
 * scheduler's thread or the main thread.
 *
 * Decisions:
 * - One link per peer id. `connect` is idempotent: a second connect to the same endpoint with the same
 *   writer token (the next room to the same decode node, even while the first connect is still under
 *   way) reuses the link; a new endpoint or a new token for the id replaces it (a decode node mints a
 *   new token for a peer it declared lost: the old link is cut there anyway).
 * - Decode: grant / release / cut_writer go straight to the receiver; they fail if it is not listening.
 * - A write that fails with a KvLinkError retires its link (closed, forgotten), so the next connect
 *   builds a fresh one; a bad run, or a write the receiver refused (tcp NACK: its room released or
 *   outside its grant), fails only its own write.
 * - Receiver refusals (bad frames) are logged here as warnings: the sender side gets its own error.
 * - Requests queued behind the one that woke the thread are handled in the same turn, in order; the
 *   replies of a turn leave as one message (reply-batch.ts), or earlier while long writes are still
 *   queued (request-queue.ts).
 * - A write the backend finishes within the call (shm copying alone) is answered at once, not after
 *   the promise chain: its reply can then leave before the next write starts.
 * - On shutdown everything is closed, the replies waiting are posted, then the port (the client's
 *   channel) is closed, so the thread exits by itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ShmRegion } from '../../native/shm-region.js';
import { createLogger } from '../../src/log/logger.js';
import { deriveKey } from '../../src/security/cluster-secret.js';
import { createKvManager } from '../../src/transfer/backends.js';
import type { KvEndpoint, KvManager, KvReceiver, KvSender, PoolRegion, WriteResult } from '../../src/transfer/kv-transfer.js';
import { KvLinkError } from '../../src/transfer/link-error.js';
import { ReplyBatch } from '../../src/util/actor/reply-batch.js';
import { fromPoolSpec } from './pool-spec.js';
import type { TransferReply, TransferRequest, TransferStart, TransferWorkerData } from './protocol.js';
import { RequestQueue } from './request-queue.js';
import { RoomNotices } from './room-notices.js';

type WriteRequest = Extract<TransferRequest, { type: 'write' }>;

if (!parentPort) throw new Error('transfer-worker must run in a worker thread');
const data = workerData as TransferWorkerData;
const port = data.port;
const log = createLogger(data.logLevel).child({ actor: 'transfer', backend: data.transfer.backend });
const replies = new ReplyBatch<TransferReply>(port);

interface Link {
  key: string;
  /** The writer token the link presents (the decode node granted the room's pages to it). */
  writer: string;
  sender: Promise<KvSender>;
  /** The sender once `sender` resolved: writes then start in the turn their request arrived in. */
  ready: KvSender | null;
}

class TransferActor {
  private readonly links = new Map<string, Link>();
  private receiver: KvReceiver | null = null;
  private closing = false;
  private readonly notices = new RoomNotices((notice) => data.notices?.postMessage(notice));

  constructor(private readonly manager: KvManager, private readonly pool: PoolRegion, private readonly mapping: ShmRegion | null) {}

  async handle(req: Exclude<TransferRequest, WriteRequest>): Promise<TransferReply> {
    if (this.closing) throw new Error('the transfer actor is shutting down');
    switch (req.type) {
      case 'listen':
        return { type: 'listening', id: req.id, endpoint: await this.listen(req.host) };
      case 'connect':
        await this.link(req.peerId, req.endpoint, req.writer).sender;
        return { type: 'connected', id: req.id };
      case 'end_room':
        return { type: 'room_ended', id: req.id, notified: await this.notices.end(req.room, req.peerId, req.first, req.times) };
      case 'close_peer':
        await this.retire(req.peerId);
        return { type: 'peer_closed', id: req.id };
      case 'grant':
        this.listening().grant(req.room, req.writer, req.pageIds);
        return { type: 'granted', id: req.id };
      case 'release':
        return { type: 'released', id: req.id, done: await this.listening().release(req.room, req.how) };
      case 'cut_writer':
        return { type: 'writer_cut', id: req.id, done: await this.listening().cutWriter(req.writer) };
      case 'shutdown':
        await this.shutdown();
        return { type: 'shut_down', id: req.id };
    }
  }

  private async listen(host: string): Promise<KvEndpoint> {
    if (this.receiver) throw new Error('the transfer actor is already listening');
    this.receiver = await this.manager.listen(this.pool, host);
    log.info({ endpoint: this.receiver.endpoint }, 'KV receiver listening');
    return this.receiver.endpoint;
  }

  private listening(): KvReceiver {
    if (!this.receiver) throw new Error('the transfer actor is not listening (decode nodes only)');
    return this.receiver;
  }

  /** The peer's link, made or reused; the key is the endpoint's JSON and the writer token. */
  private link(peerId: string, endpoint: KvEndpoint, writer: string): Link {
    const key = `${JSON.stringify(endpoint)} ${writer}`;
    const known = this.links.get(peerId);
    if (known?.key === key) return known;
    if (known) void this.retire(peerId);
    const link: Link = { key, writer, sender: this.manager.connect(endpoint, this.pool, writer), ready: null };
    this.links.set(peerId, link);
    link.sender.then(
      (sender) => {
        link.ready = sender;
        log.debug({ peerId, endpoint }, 'KV link up');
      },
      () => {
        if (this.links.get(peerId) === link) this.links.delete(peerId);
      },
    );
    return link;
  }

  /** The write's reply: at once when the backend wrote within the call (shm copying alone), else once it settles. */
  write(req: WriteRequest): TransferReply | Promise<TransferReply> {
    if (this.closing) throw new Error('the transfer actor is shutting down');
    this.notices.writeStarted(req.room);
    const settled = (reply: TransferReply): TransferReply => {
      this.notices.writeSettled(req.room, reply.type === 'written' ? reply : null);
      return reply;
    };
    const reply = this.send(req);
    return reply instanceof Promise ? reply.then(settled) : settled(reply);
  }

  private send({ id, peerId, writer, runs, timeoutMs, room }: WriteRequest): TransferReply | Promise<TransferReply> {
    const link = this.links.get(peerId);
    if (!link) return { type: 'write_failed', id, message: `no KV link to peer ${peerId}: connect first` };
    // A room granted to an older token must not write through the new link: the decode node may
    // have freed (and reused) its pages once it cut the old writer.
    if (link.writer !== writer) return { type: 'write_failed', id, message: `decode node ${peerId} replaced the writer token of this room's pages (it declared this node lost)` };
    const written = (r: WriteResult): TransferReply => ({ type: 'written', id, bytes: r.bytes, runs: r.runs, ms: r.ms });
    const failed = (err: unknown): TransferReply => {
      if (err instanceof KvLinkError && this.links.get(peerId) === link) {
        log.warn({ peerId, err: err.message }, 'KV link lost');
        void this.retire(peerId);
      }
      return { type: 'write_failed', id, message: (err as Error).message };
    };
    try {
      const result = link.ready ? link.ready.write(runs, timeoutMs, room) : link.sender.then((sender) => sender.write(runs, timeoutMs, room));
      return result instanceof Promise ? result.then(written, failed) : written(result);
    } catch (err) {
      return failed(err);
    }
  }

  /** Forgets the peer's link and closes it (once its connect settled, if it was still under way). */
  private async retire(peerId: string): Promise<void> {
    const link = this.links.get(peerId);
    if (!link) return;
    this.links.delete(peerId);
    const sender = await link.sender.catch(() => null);
    await sender?.close();
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.links.keys()].map((peerId) => this.retire(peerId)));
    await this.receiver?.close();
    this.receiver = null;
    await this.manager.close?.();
    this.mapping?.close();
    data.notices?.close();
  }
}

async function start(): Promise<TransferActor> {
  const { pool, mapping } = fromPoolSpec(data.pool);
  try {
    const linkKey = deriveKey(Buffer.from(data.clusterSecret), 'tcp-kv');
    const manager = await createKvManager(data.transfer, { connectTimeoutMs: data.connectTimeoutMs, onRefuse: (reason) => log.warn(reason), linkKey, warn: (message) => log.warn(message) });
    return new TransferActor(manager, pool, mapping);
  } catch (err) {
    mapping?.close();
    throw err;
  }
}

async function main(): Promise<void> {
  let actor: TransferActor;
  try {
    actor = await start();
  } catch (err) {
    port.postMessage({ type: 'start_failed', message: (err as Error).message } satisfies TransferStart);
    port.close();
    return;
  }
  const failed = (req: TransferRequest, err: Error): TransferReply =>
    req.type === 'write' ? { type: 'write_failed', id: req.id, message: err.message } : { type: 'failed', id: req.id, message: err.message };
  const answer = (reply: TransferReply): void => {
    replies.post(reply);
    if (reply.type === 'shut_down') {
      replies.flush();
      port.close();
    }
  };
  const serve = (req: TransferRequest): void => {
    let reply: TransferReply | Promise<TransferReply>;
    try {
      reply = req.type === 'write' ? actor.write(req) : actor.handle(req);
    } catch (err) {
      reply = failed(req, err as Error);
    }
    if (reply instanceof Promise) reply.then(answer, (err: Error) => answer(failed(req, err)));
    else answer(reply);
  };
  const queue = new RequestQueue(port, data.pool.pageBytes, replies);
  port.on('message', (first: TransferRequest) => queue.turn(first, serve));
  port.postMessage({ type: 'ready' } satisfies TransferStart);
}

void main();
