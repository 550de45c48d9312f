/**
 * One try at a generation on one prefill/decode pair: the same body goes to both nodes at once, and
 * the decode node's answer is what the client gets. Decisions:
 * - Until something is relayed to the client, the first failure of either side ends the attempt: the
 *   other side is cancelled (its socket destroyed, so the node aborts the room and frees its pages)
 *   and the caller may retry on a fresh pair. A failure is a failed connection, a timeout, or a 5xx.
 * - A 4xx from either side is the client's fault and is relayed as the answer; the other side is
 *   cancelled.
 * - Once the decode node's answer is complete (whole) or its first event was relayed (stream), only
 *   the decode side matters: by then the KV is on the decode node, so a late prefill failure is only
 *   logged. The exception is `return_logprob`, where the prefill's answer is part of the response and
 *   is awaited (bounded by the request timeout) before anything is relayed.
 * - A stream that breaks after it started ends with an SSE error event and [DONE]: 504 for a
 *   timeout, 502 otherwise. The client learns which node failed.
 * - A 503 with Retry-After is a node saying it is full (not broken): the failure carries the wait, so
 *   the caller retries elsewhere, or on the same node once the wait is over.
 * - A decode answer is streamed only when it is a 200 `text/event-stream`; anything else is relayed
 *   whole with its status and content type.
 */
import type { Logger } from '../log/logger.js';
import type { ClientStream } from './client-stream.js';
import { mergeStreamEvent, mergeWhole, prefillInputLogprobs } from './logprob-merge.js';
import type { NodePair, RouterContext } from './router-context.js';
import { sseEvents } from './sse-events.js';
import { UpstreamError, type UpstreamFailureKind, type UpstreamRequest } from './upstream-request.js';
import type { UpstreamNode } from './upstream-node.js';

/** A node's answer to relay to the client as it is (or with input logprobs merged). */
export interface Answer {
  kind: 'answer';
  status: number;
  contentType: string;
  body: string;
}

/** The decode node's stream was relayed; `broken` says how it ended early, if it did. */
export interface Streamed {
  kind: 'streamed';
  broken: UpstreamFailureKind | null;
}

/** Nothing reached the client. `cause` is the connection's failure, or `http` for a 5xx answer. */
export interface Failure {
  kind: 'failed';
  node: UpstreamNode;
  cause: UpstreamFailureKind | 'http';
  /** The node's 5xx status, for `http`. */
  status: number | null;
  /** A full node's 503 named when to come back (Retry-After, in ms); null for any other failure. */
  retryAfterMs: number | null;
  message: string;
}

export type AttemptResult = Answer | Streamed | Failure;

/** The decode node answered 200 with an event stream, to be relayed to `to`. */
interface StreamStart {
  kind: 'stream';
  to: ClientStream;
}

export class PdAttempt {
  private readonly prefill: UpstreamRequest;
  private readonly decode: UpstreamRequest;

  constructor(
    ctx: RouterContext,
    private readonly pair: NodePair,
    path: string,
    body: string,
    private readonly wantLogprobs: boolean,
    /** The request's logger, made on first use. */
    private readonly log: () => Logger,
  ) {
    this.prefill = ctx.generation(pair.prefill, path, body);
    this.decode = ctx.generation(pair.decode, path, body);
  }

  cancel(reason: string): void {
    this.prefill.cancel(reason);
    this.decode.cancel(reason);
  }

  /** `stream` is where a decode SSE answer goes; null reads every answer whole. */
  async run(stream: ClientStream | null): Promise<AttemptResult> {
    const prefillOutcome = readAnswer(this.prefill, this.pair.prefill);
    // Settles only when the prefill side ends the attempt; on success it never does.
    const prefillStop = new Promise<Answer | Failure>((resolve, reject) => void prefillOutcome.then((o) => (o.kind === 'failed' || o.status >= 400 ? resolve(o) : undefined), reject));
    const decodeFirst: Promise<Answer | Failure | StreamStart> =
      stream === null
        ? readAnswer(this.decode, this.pair.decode)
        : this.decode.response.then<Answer | Failure | StreamStart, Failure>(
            (res) => (res.status === 200 && isEventStream(res.headers['content-type']) ? { kind: 'stream', to: stream } : readAnswer(this.decode, this.pair.decode)),
            (err: unknown) => failure(this.pair.decode, err),
          );

    const first = await race(prefillStop, decodeFirst);
    if (first.side === 'prefill') return this.endedBy('prefill', first.value);
    const decoded = first.value;
    if (decoded.kind === 'stream') return this.relayStream(decoded.to, prefillOutcome, prefillStop);
    if (decoded.kind === 'failed' || decoded.status >= 400) return this.endedBy('decode', decoded);
    if (!this.wantLogprobs) {
      this.settleInBackground(prefillOutcome);
      return decoded;
    }
    const prefilled = await prefillOutcome;
    if (prefilled.kind === 'failed' || prefilled.status >= 400) return prefilled;
    return { ...decoded, body: mergeWhole(decoded.body, prefillInputLogprobs(prefilled.body, isEventStream(prefilled.contentType))) };
  }

  private async relayStream(stream: ClientStream, prefillOutcome: Promise<Answer | Failure>, prefillStop: Promise<Answer | Failure>): Promise<AttemptResult> {
    let relay = (event: string): void => stream.write(event);
    if (this.wantLogprobs) {
      const prefilled = await race(prefillOutcome, this.decode.failed.then((err) => failure(this.pair.decode, err)));
      if (prefilled.side === 'decode') return this.endedBy('decode', prefilled.value);
      const answer = prefilled.value;
      if (answer.kind === 'failed' || answer.status >= 400) return this.endedBy('prefill', answer);
      const from = prefillInputLogprobs(answer.body, isEventStream(answer.contentType));
      relay = (event) => stream.write(mergeStreamEvent(event, from));
    }
    const events = sseEvents(this.decode.chunks());
    const firstEvent = events.next().then(
      (r) => (r.done ? failure(this.pair.decode, new UpstreamError('reset', 'the stream ended before its first event')) : r.value),
      (err: unknown) => failure(this.pair.decode, err),
    );
    const first = await race(prefillStop, firstEvent);
    if (first.side === 'prefill') return this.endedBy('prefill', first.value);
    if (typeof first.value !== 'string') return this.endedBy('decode', first.value);

    stream.open();
    relay(first.value);
    try {
      for (let r = await events.next(); !r.done; r = await events.next()) relay(r.value);
    } catch (err) {
      const broken = asUpstreamError(err);
      this.prefill.cancel('the decode stream broke off');
      if (broken.kind !== 'cancelled') this.log().warn({ node: this.pair.decode.url, problem: broken.message }, 'decode stream broke off after it started; the client gets an error event');
      // A no-op when the cancel came from the client leaving; when the router is closing, the client learns why.
      stream.fail(broken.kind === 'timeout' ? 504 : broken.kind === 'cancelled' ? 503 : 502, `decode node ${this.pair.decode.url}: ${broken.message}`);
      return { kind: 'streamed', broken: broken.kind };
    }
    stream.close();
    if (!this.wantLogprobs) this.settleInBackground(prefillOutcome);
    return { kind: 'streamed', broken: null };
  }

  /** One side ended the attempt (a failure or a 4xx): the other side is cancelled. */
  private endedBy(side: 'prefill' | 'decode', outcome: Answer | Failure): Answer | Failure {
    const other = side === 'prefill' ? this.decode : this.prefill;
    other.cancel(`the ${side} node ${outcome.kind === 'failed' ? 'failed' : `answered ${outcome.status}`}`);
    return outcome;
  }

  /** The client has its answer; a prefill exchange still running is left to finish, and a failure logged. */
  private settleInBackground(prefillOutcome: Promise<Answer | Failure>): void {
    void prefillOutcome.then((o) => {
      const problem = o.kind === 'failed' ? (o.cause === 'cancelled' ? null : o.message) : o.status >= 400 ? `answered ${o.status}` : null;
      if (problem !== null) this.log().warn({ node: this.pair.prefill.url, problem }, 'prefill side failed after the decode node answered');
    });
  }
}

/** The node's whole answer (one promise: the body's, which settles after the head), or its failure. */
function readAnswer(req: UpstreamRequest, node: UpstreamNode): Promise<Answer | Failure> {
  return req.text().then(
    (body): Answer | Failure => {
      const res = req.headNow!;
      const { status } = res;
      if (status >= 500) {
        const retryAfterMs = status === 503 ? retryAfter(res.headers['retry-after']) : null;
        return { kind: 'failed', node, cause: 'http', status, retryAfterMs, message: `${node.role} node ${node.url} answered ${status}: ${errorMessage(body)}` };
      }
      return { kind: 'answer', status, contentType: res.headers['content-type'] ?? 'application/json', body };
    },
    (err: unknown) => failure(node, err),
  );
}

function failure(node: UpstreamNode, err: unknown): Failure {
  const e = asUpstreamError(err);
  return { kind: 'failed', node, cause: e.kind, status: null, retryAfterMs: null, message: `${node.role} node ${node.url}: ${e.message}` };
}

/** Retry-After in ms: delay-seconds or an HTTP date (RFC 9110 10.2.3); null when absent or unreadable. */
function retryAfter(value: string | undefined): number | null {
  if (value === undefined) return null;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

function asUpstreamError(err: unknown): UpstreamError {
  return err instanceof UpstreamError ? err : new UpstreamError('reset', err instanceof Error ? err.message : String(err));
}

function isEventStream(contentType: string | undefined): boolean {
  return contentType?.startsWith('text/event-stream') ?? false;
}

/** A node's error message (our error shape, or any JSON with a `message`), else the start of its text. */
function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown }; message?: unknown };
    const message = parsed.error?.message ?? parsed.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: quote the text itself.
  }
  return body.length > 200 ? `${body.slice(0, 200)}...` : body;
}

/**
 * Which side settles first, and with what (prefill first when both already have): one promise and a
 * reaction on each, not Promise.race over two derived promises inside an async function. Failures
 * are values here, but a side that rejects (a bug) still rejects the race instead of leaving it
 * unsettled with a rejection nobody handles.
 */
function race<P, D>(prefill: Promise<P>, decode: Promise<D>): Promise<{ side: 'prefill'; value: P } | { side: 'decode'; value: D }> {
  return new Promise((resolve, reject) => {
    prefill.then((value) => resolve({ side: 'prefill', value }), reject);
    decode.then((value) => resolve({ side: 'decode', value }), reject);
  });
}
