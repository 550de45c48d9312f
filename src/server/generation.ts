/**
 * The generations of one HTTP request (one per prompt), independent of the response format.
 * Each `Run` accumulates its output (text, ids, logprobs) from the scheduler's events; the batch
 * claims the request ids while in flight, records metrics, and logs every line through
 * `requestLogger` so it carries the request id. A run ends exactly once: finished, failed or
 * aborted; events that arrive after its end (an abort racing the scheduler) are dropped.
 */
import { performance } from 'node:perf_hooks';
import type { GenerateRequest } from '../../actors/scheduler/protocol.js';
import type { FinishMeta, TokenLogprob } from '../generation/output.js';
import { requestLogger, type Logger } from '../log/logger.js';
import type { GenerateEvent, SchedulerClient } from '../../actors/scheduler/scheduler-client.js';
import type { RequestOutcome, ServerMetrics } from './metrics.js';
import type { InFlightIds } from './request-ids.js';

export type RunStatus = 'pending' | 'running' | 'finished' | 'failed' | 'aborted';

export class Run {
  status: RunStatus = 'pending';
  promptTokens = 0;
  text = '';
  readonly outputIds: number[] = [];
  readonly outputLogprobs: TokenLogprob[] = [];
  readonly outputTopLogprobs: (TokenLogprob[] | null)[] = [];
  meta: FinishMeta | null = null;
  /** The prompt's logprobs (with return_logprob): from the first output event, or the finished meta. */
  inputTokenLogprobs: TokenLogprob[] | null = null;
  inputTopLogprobs: (TokenLogprob[] | null)[] | null = null;
  lastTokenAt: number | null = null;
  endedAt: number | null = null;

  constructor(
    readonly index: number,
    readonly request: GenerateRequest,
    readonly startedAt: number,
    readonly log: Logger,
  ) {}

  get rid(): string {
    return this.request.rid;
  }

  get ended(): boolean {
    return this.status === 'finished' || this.status === 'failed' || this.status === 'aborted';
  }

  /** Seconds since the request arrived, frozen when the run ends. */
  latencySeconds(): number {
    return ((this.endedAt ?? performance.now()) - this.startedAt) / 1000;
  }
}

/** A run's events as the response formats see them; `tokens` carries the new part only. */
export type RunEvent =
  | { type: 'accepted'; run: Run }
  | { type: 'tokens'; run: Run; ids: number[]; text: string; logprobs: TokenLogprob[]; topLogprobs: (TokenLogprob[] | null)[] }
  | { type: 'finished'; run: Run }
  | { type: 'error'; run: Run; status: number; message: string; retryAfterSecs?: number };

export interface GenerationDeps {
  client: SchedulerClient;
  ids: InFlightIds;
  metrics: ServerMetrics;
  log: Logger;
}

export interface BatchOptions {
  /** Health probes are not client traffic: they stay out of the metrics. */
  observe: boolean;
  /** performance.now() when the HTTP request arrived: latencies count from there. */
  arrivedAt?: number;
}

export class GenerationBatch {
  readonly runs: Run[];
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly observe: boolean;

  /** Claims the request ids (a clash throws a 400 HttpError before anything is sent). */
  constructor(
    private readonly deps: GenerationDeps,
    requests: readonly GenerateRequest[],
    { observe, arrivedAt = performance.now() }: BatchOptions,
  ) {
    deps.ids.claim(requests.map((r) => r.rid));
    this.observe = observe;
    this.runs = requests.map((req, i) => new Run(i, req, arrivedAt, requestLogger(deps.log, req.rid, req.pd?.room)));
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Sends every request to the scheduler; resolves when every run has ended. */
  start(onEvent: (e: RunEvent) => void): Promise<void> {
    for (const run of this.runs) {
      // A run may already be aborted by an earlier run's synchronous failure.
      if (!run.ended) this.deps.client.generate(run.request, (e) => this.handle(run, e, onEvent));
    }
    this.settleIfDone();
    return this.done;
  }

  /** Every run was accepted by the scheduler (or has ended). */
  get allAccepted(): boolean {
    return this.runs.every((r) => r.status !== 'pending');
  }

  /** Cancels every run still going; the scheduler frees their pages and sends nothing more. */
  abort(reason: string): void {
    for (const run of this.runs) {
      if (run.ended) continue;
      this.deps.client.abort(run.rid, reason);
      run.log.info({ reason, completionTokens: run.outputIds.length }, 'request aborted');
      this.end(run, 'aborted', 'aborted');
    }
  }

  private handle(run: Run, e: GenerateEvent, onEvent: (e: RunEvent) => void): void {
    if (run.ended) return;
    switch (e.type) {
      case 'accepted':
        run.status = 'running';
        run.promptTokens = e.promptTokens;
        if (this.observe) this.deps.metrics.accepted(e.promptTokens);
        run.log.debug({ promptTokens: e.promptTokens }, 'request accepted');
        onEvent({ type: 'accepted', run });
        return;
      case 'tokens': {
        run.status = 'running';
        this.observeTokens(run, e.ids.length);
        run.text += e.text;
        run.outputIds.push(...e.ids);
        const logprobs = e.logprobs ?? [];
        const topLogprobs = e.topLogprobs ?? [];
        run.outputLogprobs.push(...logprobs);
        run.outputTopLogprobs.push(...topLogprobs);
        if (e.inputTokenLogprobs !== undefined) run.inputTokenLogprobs = e.inputTokenLogprobs;
        if (e.inputTopLogprobs !== undefined) run.inputTopLogprobs = e.inputTopLogprobs;
        onEvent({ type: 'tokens', run, ids: e.ids, text: e.text, logprobs, topLogprobs });
        return;
      }
      case 'finished': {
        run.meta = e.meta;
        run.inputTokenLogprobs ??= e.meta.inputTokenLogprobs ?? null;
        run.inputTopLogprobs ??= e.meta.inputTopLogprobs ?? null;
        const reason = e.meta.finishReason;
        this.end(run, 'finished', reason.type === 'abort' ? 'aborted' : 'finished');
        run.log.info(
          { finishReason: reason, promptTokens: e.meta.promptTokens, completionTokens: e.meta.completionTokens, cachedTokens: e.meta.cachedTokens, e2eLatency: run.latencySeconds() },
          'request finished',
        );
        onEvent({ type: 'finished', run });
        return;
      }
      case 'error':
        this.end(run, 'failed', e.status < 500 ? 'rejected' : 'failed');
        // A full node's refusal (Retry-After) is expected under load, like a client error: not an error of the node.
        run.log[e.status < 500 || e.retryAfterSecs !== undefined ? 'info' : 'error']({ status: e.status, error: e.message }, 'request failed');
        onEvent({ type: 'error', run, status: e.status, message: e.message, retryAfterSecs: e.retryAfterSecs });
        return;
    }
  }

  private observeTokens(run: Run, count: number): void {
    if (count === 0) return;
    const now = performance.now();
    if (this.observe) {
      if (run.lastTokenAt === null) this.deps.metrics.firstTokens(count, (now - run.startedAt) / 1000, now);
      else this.deps.metrics.laterTokens(count, (now - run.lastTokenAt) / 1000, now);
    }
    run.lastTokenAt = now;
  }

  private end(run: Run, status: RunStatus, outcome: RequestOutcome): void {
    run.status = status;
    run.endedAt = performance.now();
    this.deps.ids.release(run.rid);
    if (this.observe) this.deps.metrics.requestEnded(outcome, run.latencySeconds(), run.meta?.cachedTokens ?? 0);
    this.settleIfDone();
  }

  private settleIfDone(): void {
    if (this.runs.every((r) => r.ended)) this.resolveDone();
  }
}
