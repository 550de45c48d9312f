/**
 * Prometheus metrics of one HTTP server. Decisions: a Registry per server (never prom-client's global
 * one) so two nodes in one process do not clash; names follow SGLang's metrics with a `pd_node_`
 * prefix (Prometheus reserves ':' for recording rules); every series carries `model_name`. Requests
 * are counted per prompt that reached the scheduler, by outcome: finished (stop/length), aborted
 * (client went away or the scheduler aborted it), rejected (4xx from the scheduler), failed (5xx).
 * Scheduler gauges are read from `client.stats()` at scrape time, not pushed.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SchedulerStats } from '../../actors/scheduler/protocol.js';

export type RequestOutcome = 'finished' | 'aborted' | 'rejected' | 'failed';

// A CPU engine spans milliseconds (tiny models) to minutes (long prompts on big ones).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TOKEN_GAP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'outcome'>;
  private readonly promptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly ttft: Histogram;
  private readonly itl: Histogram;
  private readonly e2e: Histogram;
  private readonly running: Gauge;
  private readonly waiting: Gauge;
  private readonly pagesUsed: Gauge;
  private readonly pagesTotal: Gauge;

  constructor(modelName: string) {
    this.registry.setDefaultLabels({ model_name: modelName });
    const registers = [this.registry];
    this.requests = new Counter({ name: 'pd_node_requests_total', help: 'Generation requests by outcome.', labelNames: ['outcome'], registers });
    this.promptTokens = new Counter({ name: 'pd_node_prompt_tokens_total', help: 'Prompt tokens of accepted requests.', registers });
    this.generationTokens = new Counter({ name: 'pd_node_generation_tokens_total', help: 'Generated tokens.', registers });
    this.ttft = new Histogram({ name: 'pd_node_time_to_first_token_seconds', help: 'Time from request arrival to its first output token.', buckets: LATENCY_BUCKETS, registers });
    this.itl = new Histogram({ name: 'pd_node_inter_token_latency_seconds', help: 'Time between consecutive output tokens.', buckets: TOKEN_GAP_BUCKETS, registers });
    this.e2e = new Histogram({ name: 'pd_node_e2e_request_latency_seconds', help: 'Time from request arrival to its end.', buckets: LATENCY_BUCKETS, registers });
    this.running = new Gauge({ name: 'pd_node_num_running_reqs', help: 'Requests in the running batch.', registers });
    this.waiting = new Gauge({ name: 'pd_node_num_waiting_reqs', help: 'Requests waiting for admission.', registers });
    this.pagesUsed = new Gauge({ name: 'pd_node_kv_pages_used', help: 'KV cache pages in use.', registers });
    this.pagesTotal = new Gauge({ name: 'pd_node_kv_pages_total', help: 'KV cache pages in the pool.', registers });
  }

  requestEnded(outcome: RequestOutcome, latencySeconds: number): void {
    this.requests.inc({ outcome });
    this.e2e.observe(latencySeconds);
  }

  accepted(promptTokens: number): void {
    this.promptTokens.inc(promptTokens);
  }

  firstTokens(count: number, sinceArrivalSeconds: number): void {
    this.generationTokens.inc(count);
    this.ttft.observe(sinceArrivalSeconds);
  }

  /** `count` tokens arrived together `gapSeconds` after the previous ones: each gets an equal share. */
  laterTokens(count: number, gapSeconds: number): void {
    this.generationTokens.inc(count);
    for (let i = 0; i < count; i++) this.itl.observe(gapSeconds / count);
  }

  async render(stats: SchedulerStats): Promise<string> {
    this.running.set(stats.running);
    this.waiting.set(stats.waiting);
    this.pagesUsed.set(stats.totalPages - stats.freePages);
    this.pagesTotal.set(stats.totalPages);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
