/**
 * A node's link to the registry: a ZeroMQ DEALER that registers the node, keeps it alive with
 * heartbeats, and answers queries.
 *
 * Decisions:
 * - Exactly one request in flight; others wait in a FIFO bounded at MAX_QUEUED (beyond that a request
 *   fails at once: a registry that slow is better reported than buffered). This is what lets the
 *   registry's ROUTER never reach a high-water mark: per client it holds at most one live reply.
 * - Replies are matched by `seq` through the one request/reply helper (src/util/actor/request-reply.ts).
 *   A request that times out is rejected and forgotten; its reply may still arrive later (a DEALER
 *   keeps the connection), so any reply whose seq is not the one in flight is dropped. The socket
 *   stays usable after a timeout.
 * - `immediate: true` plus a send timeout equal to the request timeout: while the registry is down a
 *   request waits for the connection (bounded) instead of piling up in ZeroMQ's queue and reaching a
 *   restarted registry long after anyone cares. Send and reply share one deadline.
 * - `register` validates the record locally (the registry's own checks) and then keeps the node
 *   registered in the background: a heartbeat every interval; `unknown_node` (registry restarted, or
 *   it expired us) re-registers the same record; an unreachable registry is logged once per kind of
 *   problem (unreachable, or the code of a refusal; not per message: timeout messages name timings
 *   that differ every time) and once on recovery, and retried forever. Nothing throws out of the timer.
 * - The first register attempt's outcome is the promise's outcome, but a failure does not stop the
 *   background retries: nodes may start before the registry (the router hosting it often starts last).
 * - Authenticated both ways: a CURVE client of the cluster's keys (security/curve-keys.ts), so only a
 *   registry holding the cluster secret can answer, and only a client holding it gets in.
 * - Replies are bounded by MAX_REPLY_BYTES in ZeroMQ itself: a larger frame disconnects (and the
 *   request times out) instead of being buffered.
 * - The record is owned: `register` picks a random owner token, sent with every register,
 *   heartbeat and deregister of it. A `not_owner` refusal (another live node holds the id) is
 *   logged once like every other problem, and retried: the id is ours once the other record expires.
 * - `close()` does not deregister (that needs a round trip that may time out); shut down with
 *   `await deregister()` (best effort) then `close()`. An expired heartbeat removes the node anyway.
 */
import { randomBytes } from 'node:crypto';
import { Dealer } from 'zeromq';
import type { Logger } from '../log/logger.js';
import { RequestReply } from '../util/actor/request-reply.js';
import { curveClientOptions, type CurveKeys } from '../security/curve-keys.js';
import type { NodeFilter } from './membership.js';
import { checkNodeRecord, encodeMessage, MAX_FRAME_BYTES, parseReply, type ErrorCode } from './messages.js';
import { REGISTRY_PROTOCOL_VERSION, type NodeRecord, type RegistryReply, type RegistryRequest } from './protocol.js';

/** Requests allowed to wait behind the one in flight. */
export const MAX_QUEUED = 64;
/**
 * Largest reply frame: a query answer lists every live node; a record is under the registry's
 * 64 KiB request limit and about 1 KiB in practice, so 16 MiB holds thousands of nodes.
 */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;

export interface RegistryClientOptions {
  /** The cluster's CURVE keys (`curveKeys(loadClusterSecret(...).key)`). */
  curve: CurveKeys;
  log: Logger;
  /** Bound on one request: waiting for the connection, sending, and the reply. */
  requestTimeoutMs?: number;
}

export interface RegisterOptions {
  heartbeatIntervalMs?: number;
}

/** The registry answered with an error (`unknown_node`, `not_owner`, `bad_request`, `version`). */
export class RegistryError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** A request without the envelope that `call` fills in (distributes over the union). */
type RequestBody<R = RegistryRequest> = R extends RegistryRequest ? Omit<R, 'v' | 'seq'> : never;

interface Pending {
  body: RequestBody;
  resolve(reply: RegistryReply): void;
  reject(err: Error): void;
}

interface KeepAlive {
  record: NodeRecord;
  /** Proves to the registry that this client created the record. */
  owner: string;
  intervalMs: number;
  timer: NodeJS.Timeout | null;
  /** False until the registry has acknowledged a register (and again after `unknown_node`). */
  registered: boolean;
  /** The kind of the last problem logged (see noteProblem), so that a long outage logs once, not once per heartbeat. */
  problem: string | null;
}

export class RegistryClient {
  private readonly queue: Pending[] = [];
  /** Ids are the requests' `seq`. */
  private readonly replies = new RequestReply<RegistryReply>();
  private pumping = false;
  private keepAlive: KeepAlive | null = null;

  private constructor(
    private readonly url: string,
    private readonly socket: Dealer,
    private readonly requestTimeoutMs: number,
    private readonly log: Logger,
  ) {
    this.receiveLoop().catch((err: unknown) => log.error({ err }, 'registry client receive loop failed'));
  }

  static connect(url: string, options: RegistryClientOptions): RegistryClient {
    const { curve, log, requestTimeoutMs = 2000 } = options;
    if (!(requestTimeoutMs > 0)) throw new Error(`registry client: requestTimeoutMs must be > 0, got ${requestTimeoutMs}`);
    const socket = new Dealer({ linger: 0, immediate: true, sendTimeout: requestTimeoutMs, maxMessageSize: MAX_REPLY_BYTES, ...curveClientOptions(curve) });
    try {
      socket.connect(url);
    } catch (err) {
      socket.close();
      throw new Error(`registry client: cannot connect to ${url}: ${(err as Error).message}`);
    }
    return new RegistryClient(url, socket, requestTimeoutMs, log.child({ registry: url }));
  }

  /**
   * Registers `record` and keeps it registered (heartbeats; re-registers when the registry forgot it)
   * until `deregister()` or `close()`. Rejects if the record is invalid (nothing is started) or if
   * the first attempt fails; in the latter case the background retries continue.
   */
  async register(record: NodeRecord, options: RegisterOptions = {}): Promise<void> {
    if (this.socket.closed) throw new Error('registry client is closed');
    if (this.keepAlive) throw new Error(`registry client already registered node ${this.keepAlive.record.id}; deregister first`);
    const problem = checkNodeRecord(record);
    if (problem !== null) throw new Error(`invalid node record: ${problem}`);
    const owner = randomBytes(16).toString('hex');
    const bytes = encodeMessage({ v: REGISTRY_PROTOCOL_VERSION, seq: 0, type: 'register', node: record, owner }).length;
    if (bytes > MAX_FRAME_BYTES) throw new Error(`node record of ${bytes} bytes exceeds the registry's ${MAX_FRAME_BYTES}-byte frame limit`);

    const intervalMs = options.heartbeatIntervalMs ?? 1000;
    if (!(intervalMs > 0)) throw new Error(`heartbeatIntervalMs must be > 0, got ${intervalMs}`);

    const ka: KeepAlive = { record, owner, intervalMs, timer: null, registered: false, problem: null };
    this.keepAlive = ka;
    try {
      await this.registerOnce(ka);
    } catch (err) {
      this.noteProblem(ka, err as Error);
      throw err;
    } finally {
      this.schedule(ka);
    }
  }

  /** The live nodes of `filter.role` and/or with id `filter.id` (every live node without a filter). */
  async query(filter: NodeFilter = {}): Promise<NodeRecord[]> {
    const reply = await this.call({ type: 'query', ...filter }, 'nodes');
    return reply.nodes;
  }

  /** Every live node, and the URLs of nodes that deregistered lately (protocol.ts). */
  async listing(): Promise<{ nodes: NodeRecord[]; deregistered: string[] }> {
    const reply = await this.call({ type: 'query' }, 'nodes');
    return { nodes: reply.nodes, deregistered: reply.deregistered };
  }

  /** Stops the heartbeats and tells the registry; resolves at once if nothing is registered. */
  async deregister(): Promise<void> {
    const ka = this.keepAlive;
    if (!ka) return;
    this.stopKeepAlive();
    await this.call({ type: 'deregister', id: ka.record.id, owner: ka.owner }, 'ok');
    this.log.info({ id: ka.record.id }, 'deregistered from registry');
  }

  /** Stops heartbeats, fails every pending request, closes the socket. Does not deregister. */
  close(): void {
    if (this.socket.closed) return;
    this.stopKeepAlive();
    const closed = new Error('registry client closed');
    for (const pending of this.queue.splice(0)) pending.reject(closed);
    this.replies.close(closed.message);
    this.socket.close();
  }

  private async registerOnce(ka: KeepAlive): Promise<void> {
    await this.call({ type: 'register', node: ka.record, owner: ka.owner }, 'ok');
    ka.registered = true;
    this.log.info({ id: ka.record.id, role: ka.record.role }, 'registered with registry');
  }

  private schedule(ka: KeepAlive): void {
    if (this.keepAlive !== ka) return;
    ka.timer = setTimeout(() => void this.tick(ka), ka.intervalMs);
    // The node's own servers keep the process alive; heartbeats alone should not.
    ka.timer.unref();
  }

  private async tick(ka: KeepAlive): Promise<void> {
    try {
      if (ka.registered) {
        try {
          await this.call({ type: 'heartbeat', id: ka.record.id, owner: ka.owner }, 'ok');
        } catch (err) {
          if (!(err instanceof RegistryError && (err.code === 'unknown_node' || err.code === 'not_owner'))) throw err;
          ka.registered = false;
          this.log.info({ id: ka.record.id, code: err.code }, 'registry no longer holds this node\'s record (restarted, expired it, or another node took the id); registering again');
        }
      }
      // Checked again after the await: a deregister() meanwhile must not be undone by a late register.
      if (!ka.registered && this.keepAlive === ka) await this.registerOnce(ka);
      if (ka.problem !== null) {
        this.log.info({ id: ka.record.id }, 'registry reachable again');
        ka.problem = null;
      }
    } catch (err) {
      this.noteProblem(ka, err as Error);
    } finally {
      this.schedule(ka);
    }
  }

  private noteProblem(ka: KeepAlive, err: Error): void {
    const kind = err instanceof RegistryError ? err.code : 'unreachable';
    if (this.keepAlive !== ka || kind === ka.problem) return;
    ka.problem = kind;
    this.log.warn({ id: ka.record.id, err: err.message }, 'registry unreachable or refusing this node; will keep trying');
  }

  private stopKeepAlive(): void {
    if (this.keepAlive?.timer) clearTimeout(this.keepAlive.timer);
    this.keepAlive = null;
  }

  /** One request, answered by a reply of type `expect`; an error reply becomes a RegistryError. */
  private async call<T extends RegistryReply['type']>(body: RequestBody, expect: T): Promise<Extract<RegistryReply, { type: T }>> {
    const reply = await this.enqueue(body);
    if (reply.type === 'error') throw new RegistryError(reply.code, `registry refused ${body.type}: ${reply.message}`);
    if (reply.type !== expect) throw new Error(`registry answered ${body.type} with '${reply.type}', expected '${expect}'`);
    return reply as Extract<RegistryReply, { type: T }>;
  }

  private enqueue(body: RequestBody): Promise<RegistryReply> {
    if (this.socket.closed) return Promise.reject(new Error('registry client is closed'));
    if (this.queue.length >= MAX_QUEUED) {
      return Promise.reject(new Error(`registry client: ${MAX_QUEUED} requests already waiting; registry ${this.url} too slow or unreachable`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ body, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    for (let job = this.queue.shift(); job; job = this.queue.shift()) {
      try {
        job.resolve(await this.exchange(job.body));
      } catch (err) {
        job.reject(err as Error);
      }
    }
    this.pumping = false;
  }

  /**
   * One request on the wire: send and reply share one deadline (request-reply.ts). The send is
   * bounded by the socket's sendTimeout (= requestTimeoutMs), not by a timer: a send left pending
   * would make the next one fail with EBUSY, so the next request waits for this one's send to end.
   */
  private async exchange(body: RequestBody): Promise<RegistryReply> {
    let sent: Promise<void> = Promise.resolve();
    const reply = this.replies.request(`registry ${body.type} to ${this.url}: reply`, this.requestTimeoutMs, (seq) => {
      sent = this.socket.send(encodeMessage({ ...body, v: REGISTRY_PROTOCOL_VERSION, seq } as RegistryRequest)).catch((err: Error) => {
        if (this.socket.closed) throw new Error('registry client closed');
        throw new Error(`registry ${body.type} to ${this.url} not sent within ${this.requestTimeoutMs / 1000} s (${err.message})`);
      });
      return sent;
    });
    try {
      return await reply;
    } finally {
      await sent.catch(() => undefined);
    }
  }

  private async receiveLoop(): Promise<void> {
    for await (const frames of this.socket) {
      const parsed = frames.length === 1 ? parseReply(frames[0]) : null;
      if (parsed === null) {
        this.log.warn({ frames: frames.length }, 'registry reply dropped: expected one frame');
      } else if (parsed.ok) {
        if (!this.replies.settle(parsed.value.seq, parsed.value)) this.log.debug({ seq: parsed.value.seq }, 'late registry reply dropped (its request already timed out)');
      } else if (!this.replies.fail(parsed.seq, new Error(`registry sent an invalid reply: ${parsed.reason}`))) {
        this.log.warn({ reason: parsed.reason }, 'invalid registry reply dropped');
      }
    }
  }
}
