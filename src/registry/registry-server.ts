/**
 * The registry: a ZeroMQ ROUTER that nodes (DEALERs) register with, heartbeat to and query.
 *
 * Decisions:
 * - One message at a time, in arrival order: parse, apply to the membership table, reply, then read
 *   the next. Handling is synchronous, so the registry's state is never seen half-updated and the
 *   work in flight is one message.
 * - Nothing is lost silently. Inbound, ZeroMQ applies back-pressure (a peer over the receive
 *   high-water mark stops being read; its TCP window fills) rather than dropping. Outbound, a ROUTER
 *   would drop a reply at a peer's send high-water mark without a word, so the socket is `mandatory`
 *   with `sendTimeout: 0`: a reply that cannot be queued fails at once and is logged instead of
 *   blocking the loop. A client sends its next request only once the previous one was answered or
 *   timed out, so a peer has one reply queued in normal operation, a few after timeouts, far below
 *   the marks.
 * - Two size limits: frames over 64 KiB are answered with `bad_request` (see messages.ts); frames over
 *   MAX_WIRE_BYTES never reach JS at all: ZeroMQ disconnects that peer (so no reply and no log line
 *   for those), and a hostile peer cannot make the registry buffer megabytes.
 * - A frame that fails validation gets an error reply (with its seq when one was readable) and a warn
 *   log; a message with other than one body frame is answered the same way. Nothing a peer sends can
 *   throw out of the loop.
 * - Expiry is a sweep timer (unref'd, so it never keeps a process alive) at a quarter of the heartbeat
 *   timeout: a dead node is gone within 1.25 x the timeout.
 * - Authenticated: the ROUTER is a CURVE server for the cluster's keys (security/curve-keys.ts) and
 *   admits only clients holding the cluster secret (security/zap-handler.ts); a stranger never gets
 *   a frame to this loop.
 * - `handover`: a client reconnecting with a routing id a dead connection still holds takes it over
 *   at once. Registry clients set no routing id (the ROUTER gives every connection a fresh one), so
 *   this only matters for a client that names itself; ZeroMQ reports no event for it, so it is not
 *   logged.
 * - Changes of a record need its owner token (membership.ts); a refused one is answered `not_owner`.
 * - A register is checked before it touches the table: its addresses must be reachable by the
 *   registry's readers (address-policy.ts, by the host the registry is bound to), else
 *   `unreachable_address`, logged once per node id; then dead records are expired, so a URL still held
 *   by another owner's record is held by a live node (`url_in_use`, membership.ts).
 * - Binds exactly what it is given; port 0 lets the OS pick, and `url` reports the bound endpoint.
 *   ZeroMQ frees the port in its I/O thread shortly after `close()`; a registry restarted on the
 *   same port at once may need to retry its bind. (Waiting for the monitor's `close` event would
 *   tell exactly when, but zeromq 6.8's socket monitor aborts the process now and then when a peer
 *   disconnects, so the registry never opens one.)
 */
import { Router } from 'zeromq';
import type { Logger } from '../log/logger.js';
import { withTimeout } from '../util/timeout.js';
import { curveServerOptions, type CurveKeys } from '../security/curve-keys.js';
import { admitClusterClients } from '../security/zap-handler.js';
import { encodeMessage, parseRequest } from './messages.js';
import { unreachableAddress } from './address-policy.js';
import { Membership, type MembershipListener } from './membership.js';
import { REGISTRY_PROTOCOL_VERSION, type NodeRecord, type RegisteredRole, type RegistryReply, type RegistryRequest } from './protocol.js';

/** Hard per-frame cap enforced by ZeroMQ itself (the peer is disconnected); well above MAX_FRAME_BYTES. */
const MAX_WIRE_BYTES = 1024 * 1024;
/** Per-peer queue bounds; a well-behaved client never has more than two messages in either. */
const RECEIVE_HWM = 64;
const SEND_HWM = 64;
const CLOSE_TIMEOUT_MS = 2000;

export interface RegistryOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** A node not heard from (register or heartbeat) for this long is removed. */
  heartbeatTimeoutMs?: number;
  /** The cluster's CURVE keys (`curveKeys(loadClusterSecret(...).key)`). */
  curve: CurveKeys;
  log: Logger;
}

export interface RegistryServer {
  /** The bound endpoint, e.g. tcp://127.0.0.1:5757 (the real port when 0 was asked for). */
  readonly url: string;
  /** Bumped on every membership change (never on heartbeats or queries). */
  readonly epoch: number;
  /** Live records in registration order; they are the registry's own objects, so treat them as read-only. */
  nodes(role?: RegisteredRole): NodeRecord[];
  /** httpUrls deregistered lately (not expired): see membership.ts. */
  deregistered(): string[];
  /** For in-process users (a router hosting the registry). Returns the unsubscribe function. */
  onChange(listener: MembershipListener): () => void;
  close(): Promise<void>;
}

export async function startRegistry(options: RegistryOptions): Promise<RegistryServer> {
  const { host, port, heartbeatTimeoutMs = 3000, curve, log } = options;
  if (!(heartbeatTimeoutMs > 0)) throw new Error(`registry: heartbeatTimeoutMs must be > 0, got ${heartbeatTimeoutMs}`);
  const releaseZap = await admitClusterClients(curve, log);
  const socket = new Router({
    linger: 0,
    mandatory: true,
    handover: true,
    sendTimeout: 0,
    sendHighWaterMark: SEND_HWM,
    receiveHighWaterMark: RECEIVE_HWM,
    maxMessageSize: MAX_WIRE_BYTES,
    ...curveServerOptions(curve),
  });
  const fail = (message: string): never => {
    socket.close();
    releaseZap();
    throw new Error(message);
  };
  try {
    await socket.bind(`tcp://${host}:${port}`);
  } catch (err) {
    fail(`registry: cannot bind tcp://${host}:${port}: ${(err as Error).message}`);
  }
  const url = socket.lastEndpoint ?? fail('registry: ZeroMQ reported no bound endpoint');

  const membership = new Membership(log);
  const sweep = setInterval(() => membership.expire(heartbeatTimeoutMs), Math.max(10, heartbeatTimeoutMs / 4));
  sweep.unref();
  // Only closing the socket ends the loop normally; anything else is logged, never an unhandled rejection.
  const policy: RegisterPolicy = { registryHost: host, heartbeatTimeoutMs, refusedIds: new Set() };
  const loop = serve(socket, membership, policy, log).catch((err: unknown) => log.error({ err }, 'registry receive loop failed'));
  log.info({ url, heartbeatTimeoutMs }, 'registry listening');

  return {
    url,
    get epoch() {
      return membership.epoch;
    },
    nodes: (role) => membership.list({ role }),
    deregistered: () => membership.deregistered(),
    onChange: (listener) => membership.onChange(listener),
    async close() {
      clearInterval(sweep);
      if (socket.closed) return;
      socket.close();
      releaseZap();
      await withTimeout(loop, CLOSE_TIMEOUT_MS, 'registry receive loop shutdown');
      log.info({ url }, 'registry closed');
    },
  };
}

/** Runs until the socket closes; every failure inside is per-message and logged. */
/** What a register is checked against besides the table. */
interface RegisterPolicy {
  registryHost: string;
  heartbeatTimeoutMs: number;
  /** Node ids whose unreachable address was logged (once per id; bounded by MAX_LOGGED_REFUSALS). */
  refusedIds: Set<string>;
}

/** Refused ids remembered for logging once; beyond this a misconfigured fleet logs again (rarely). */
const MAX_LOGGED_REFUSALS = 1024;

async function serve(socket: Router, membership: Membership, policy: RegisterPolicy, log: Logger): Promise<void> {
  for await (const [sender, ...body] of socket) {
    const peer = sender.toString('hex');
    const reply = handle(body, membership, policy, log, peer);
    try {
      await socket.send([sender, encodeMessage(reply)]);
    } catch (err) {
      log.warn({ peer, seq: reply.seq, err: (err as Error).message }, 'registry reply not delivered (peer gone or not reading)');
    }
  }
}

function handle(body: Buffer[], membership: Membership, policy: RegisterPolicy, log: Logger, peer: string): RegistryReply {
  if (body.length !== 1) return rejected(log, peer, { seq: 0, code: 'bad_request', reason: `expected one frame, got ${body.length}` });
  const parsed = parseRequest(body[0]);
  if (!parsed.ok) return rejected(log, peer, parsed);
  const req = parsed.value;
  if (req.type === 'register') {
    const problem = unreachableAddress(req.node, policy.registryHost);
    if (problem !== null) return refusedAddress(policy, log, req.seq, req.node.id, problem);
    membership.expire(policy.heartbeatTimeoutMs);
  }
  return apply(req, membership);
}

function refusedAddress(policy: RegisterPolicy, log: Logger, seq: number, id: string, problem: string): RegistryReply {
  if (!policy.refusedIds.has(id)) {
    if (policy.refusedIds.size >= MAX_LOGGED_REFUSALS) policy.refusedIds.clear();
    policy.refusedIds.add(id);
    log.warn({ id, reason: problem }, 'registry refused a record with an address its readers cannot reach (logged once per node)');
  }
  return { v: REGISTRY_PROTOCOL_VERSION, seq, type: 'error', code: 'unreachable_address', message: problem };
}

function rejected(log: Logger, peer: string, failure: { seq: number; code: 'bad_request' | 'version'; reason: string }): RegistryReply {
  log.warn({ peer, seq: failure.seq, code: failure.code, reason: failure.reason }, 'registry dropped a bad message');
  return { v: REGISTRY_PROTOCOL_VERSION, seq: failure.seq, type: 'error', code: failure.code, message: failure.reason };
}

function outcome(seq: number, id: string, result: 'ok' | 'not_owner' | 'url_in_use' | 'unknown_node', httpUrl = ''): RegistryReply {
  const v = REGISTRY_PROTOCOL_VERSION;
  switch (result) {
    case 'ok':
      return { v, seq, type: 'ok' };
    case 'not_owner':
      return { v, seq, type: 'error', code: 'not_owner', message: `node id ${id} belongs to a live record another node registered` };
    case 'url_in_use':
      return { v, seq, type: 'error', code: 'url_in_use', message: `${httpUrl} is the httpUrl of another live node; two nodes cannot publish one URL (give each its own --port or --advertise-host; a restarted node gets its URL back once its old record expires)` };
    case 'unknown_node':
      return { v, seq, type: 'error', code: 'unknown_node', message: `node ${id} is not registered; register again` };
  }
}

function apply(req: RegistryRequest, membership: Membership): RegistryReply {
  const v = REGISTRY_PROTOCOL_VERSION;
  const seq = req.seq;
  switch (req.type) {
    case 'register':
      return outcome(seq, req.node.id, membership.register(req.node, req.owner), req.node.httpUrl);
    case 'heartbeat':
      return outcome(seq, req.id, membership.heartbeat(req.id, req.owner));
    case 'deregister':
      return outcome(seq, req.id, membership.deregister(req.id, req.owner));
    case 'query':
      return { v, seq, type: 'nodes', nodes: membership.list({ role: req.role, id: req.id }), epoch: membership.epoch, deregistered: membership.deregistered() };
  }
}
