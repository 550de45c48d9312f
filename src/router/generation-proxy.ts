/**
 * A generation request through the PD pairs, with retries. Decisions:
 * - Each attempt gets a fresh pair from the policies, avoiding every node that failed this request,
 *   and fresh rooms: a room is never reused, so a node still cleaning up the old one cannot mix the
 *   two. At most `maxRetries` retries; only failures before anything reached the client are retried.
 * - A timeout is not retried: the request's time budget is spent (504).
 * - A node that answered 503 with Retry-After is full, not broken: the next attempt avoids it if
 *   another pair is free, else goes back to it after its Retry-After (at most MAX_RETRY_AFTER_MS,
 *   plus up to half again at random so that a burst of refused requests does not come back at
 *   once). Full answers do not count against `maxRetries`: the request waits for room, as behind
 *   sgl-router's queue, until `queueTimeoutSecs` after it arrived (SGLang's own nodes queue a
 *   burst; bench_serving sends 1000 requests at once). Then the client gets 503 with Retry-After,
 *   never a 4xx: the client did nothing wrong. Only the last MAX_NAMED_FAILURES attempts are named.
 * - When no attempt succeeds, the client gets one error naming every attempt and why no further pair
 *   was possible: status 503, or the last 5xx a node answered (e.g. its own 503 for overload), so
 *   clients' retry logic still sees the node's verdict.
 * - A client that disconnects cancels the attempt in flight (both nodes see their connection close)
 *   and stops the retries.
 * - Every log line about the request carries its rid (the client's, or a fresh one) and its room(s).
 *   The logger (a pino child) and a fresh rid are made only when a line is logged: most requests log
 *   nothing, and making them cost more per request than the rest of the proxying's own code.
 */
import { requestLogger, type Logger } from '../log/logger.js';
import { freshRid } from '../server/request-ids.js';
import { batchSize, mintRoom, withBootstrap } from './bootstrap-fields.js';
import type { ClientGone } from './client-gone.js';
import type { ClientStream } from './client-stream.js';
import { DEFAULT_BOOTSTRAP_PORT } from './options.js';
import { PdAttempt, type Answer, type Failure, type Streamed } from './pd-attempt.js';
import type { RouterContext } from './router-context.js';
import type { GenerationPath } from './routes/generation.js';
import type { UpstreamNode } from './upstream-node.js';

export interface GenerationRequest {
  /** The node route, e.g. /generate. */
  path: GenerationPath;
  /** The client's JSON object, as text (sent on with its exact bytes) and parsed (to read its shape). */
  text: string;
  json: Readonly<Record<string, unknown>>;
  /** The client's id(s) for log lines; null: a fresh one, made if a line is logged. */
  rid: string | null;
}

/** A failed attempt and its number (from 0). */
type AttemptFailure = Failure & { attempt: number };

/** Attempts named in the error a client gets: the last few (a request waiting for room may make many). */
const MAX_NAMED_FAILURES = 8;

/** Longest Retry-After the router honours before trying a full node again (a node's word is a hint, the client is waiting). */
export const MAX_RETRY_AFTER_MS = 5_000;

/** Nothing was relayed: the client gets this error (with Retry-After when every node tried was full). */
export interface ProxyError {
  kind: 'error';
  status: number;
  message: string;
  retryAfterSecs?: number;
}

export type ProxyOutcome = Answer | Streamed | ProxyError | { kind: 'aborted' };

export async function proxyGeneration(ctx: RouterContext, request: GenerationRequest, stream: ClientStream | null, client: ClientGone): Promise<ProxyOutcome> {
  const { path, text, json } = request;
  let rid = request.rid;
  const logFor = (rooms?: readonly bigint[]): Logger => requestLogger(ctx.log, (rid ??= freshRid()), rooms?.join(','));
  const batch = batchSize(json);
  const wantLogprobs = path === '/generate' && json.return_logprob === true;
  const empty = isEmpty(json);
  // Made on the first failure: most requests have none.
  let exclude: Set<UpstreamNode> | null = null;
  /** Nodes that answered full (503 + Retry-After), and the longest wait they asked for. */
  let full: Set<UpstreamNode> | null = null;
  let fullWaitMs = 0;
  const failures: AttemptFailure[] = [];
  const maxRetries = ctx.options.maxRetries;
  let queueDeadline = 0;
  let retries = 0;

  for (let attempt = 0; ; attempt++) {
    if (client.gone) return { kind: 'aborted' };
    let pair = full === null ? ctx.pickPair(exclude ?? NO_NODES) : ctx.pickPair(new Set([...(exclude ?? []), ...full]));
    if (typeof pair === 'string' && full !== null) {
      // Only full nodes are left: come back to them once they said they may have room.
      const waitMs = Math.min(Math.min(fullWaitMs, MAX_RETRY_AFTER_MS) * (1 + Math.random() / 2), Math.max(0, queueDeadline - performance.now()));
      await client.wait(waitMs);
      if (client.gone) return { kind: 'aborted' };
      pair = ctx.pickPair(exclude ?? NO_NODES);
    }
    if (typeof pair === 'string') {
      logFor().warn({ path, problem: pair, attempts: attempt }, 'no prefill/decode pair to send the request to');
      return exhausted(failures, pair);
    }
    const rooms = batch === null ? [mintRoom()] : Array.from({ length: batch }, mintRoom);
    let attemptLog: Logger | null = null;
    const log = (): Logger => (attemptLog ??= logFor(rooms));
    const body = withBootstrap(text, empty, { host: pair.prefill.bootstrapHost, port: pair.prefill.bootstrapPort ?? DEFAULT_BOOTSTRAP_PORT, rooms, batch: batch !== null });
    if (ctx.log.isLevelEnabled('debug')) log().debug({ path, prefill: pair.prefill.url, decode: pair.decode.url, attempt }, 'sending to a prefill/decode pair');

    const run = new PdAttempt(ctx, pair, path, body, wantLogprobs, log);
    client.onLeave(() => run.cancel('the client disconnected'));
    let result: Answer | Streamed | Failure;
    try {
      result = await run.run(stream);
    } finally {
      client.onLeave(null);
    }
    if (client.gone) {
      log().info({ path }, 'client disconnected; the requests to both nodes were cancelled');
      return { kind: 'aborted' };
    }
    if (result.kind !== 'failed') return result;
    if (result.cause === 'timeout') return { kind: 'error', status: 504, message: result.message };
    failures.push({ ...result, attempt });
    if (failures.length > MAX_NAMED_FAILURES) failures.shift();
    let retrying: boolean;
    if (result.retryAfterMs === null) {
      (exclude ??= new Set()).add(result.node);
      retrying = retries < maxRetries;
      retries++;
    } else {
      (full ??= new Set()).add(result.node);
      fullWaitMs = Math.max(fullWaitMs, result.retryAfterMs);
      // The queue wait starts at the first full answer (one clock read per request that meets one).
      if (queueDeadline === 0) queueDeadline = performance.now() + ctx.options.queueTimeoutSecs * 1000;
      retrying = performance.now() < queueDeadline;
    }
    // A full node is expected under load (info); a failing one is not (warn).
    log()[result.retryAfterMs === null ? 'warn' : 'info']({ path, node: result.node.url, role: result.node.role, problem: result.message, attempt }, retrying ? 'attempt failed; retrying on a fresh pair' : 'attempt failed; no retries left');
    if (!retrying) return exhausted(failures, null);
    ctx.metrics.retried(path);
  }
}

/** No node excluded (a request's first attempt). */
const NO_NODES: ReadonlySet<UpstreamNode> = new Set();

function isEmpty(json: Readonly<Record<string, unknown>>): boolean {
  for (const _ in json) return false;
  return true;
}

function exhausted(failures: readonly AttemptFailure[], noPair: string | null): ProxyError {
  if (failures.length === 0) return { kind: 'error', status: 503, message: noPair ?? 'no prefill/decode pair is available' };
  const answered = failures.filter((f) => f.status !== null);
  const tried = failures.map((f) => `attempt ${f.attempt + 1}: ${f.message}`).join('; ');
  const after = noPair === null ? '' : `; no further pair: ${noPair}`;
  const last = answered.at(-1);
  return {
    kind: 'error',
    status: last?.status ?? 503,
    message: `no prefill/decode pair could serve the request (${tried}${after})`,
    retryAfterSecs: last?.retryAfterMs == null ? undefined : Math.ceil(last.retryAfterMs / 1000),
  };
}
