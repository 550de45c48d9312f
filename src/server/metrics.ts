/**
 * Prometheus metrics of one HTTP server: pd-node's own `pd_node_*` and SGLang's `sglang:*` (the
 * names, types and buckets of SGLang's `python/sglang/srt/metrics/collector.py`, so SGLang's Grafana
 * dashboard and alerts work unchanged). Decisions:
 * - A Registry per server (never prom-client's global one) so two nodes in one process do not clash;
 *   every series carries `model_name` (a default label), as SGLang's do.
 * - Both families are fed from the same events: requests are counted per prompt that reached the
 *   scheduler, pd-node's by outcome: finished (stop/length), aborted (client went away or the
 *   scheduler aborted it), rejected (4xx from the scheduler), failed (5xx); SGLang's
 *   `num_requests_total` counts finished requests and `num_aborted_requests_total` aborted ones.
 * - Per-token updates allocate nothing (scrape-instruments.ts); gauges are read from
 *   `client.stats()` at scrape time, not pushed.
 * - SGLang's gauges from pd-node's scheduler: `num_queue_reqs` = requests waiting for admission,
 *   `num_used_tokens` = pages in use x page size, `token_usage` = pages in use / pages,
 *   `max_total_num_tokens` = the pool's tokens, `gen_throughput` = tokens per second over the last
 *   10 s (token-rate.ts). `cache_hit_rate` = cached prompt tokens / prompt tokens: 0, since pd-node
 *   has no prefix cache (every prompt is computed), which is the truth a dashboard should show.
 */
import { performance } from 'node:perf_hooks';
import { Gauge, Registry } from 'prom-client';
import type { SchedulerStats } from '../../actors/scheduler/protocol.js';
import { ScrapeCounter, ScrapeHistogram } from './scrape-instruments.js';
import { TokenRate } from './token-rate.js';

export type RequestOutcome = 'finished' | 'aborted' | 'rejected' | 'failed';
const OUTCOMES: readonly RequestOutcome[] = ['finished', 'aborted', 'rejected', 'failed'];

// pd-node's buckets: a CPU engine spans milliseconds (tiny models) to minutes (long prompts on big ones).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TOKEN_GAP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

// SGLang's default buckets (collector.py), so its dashboards' quantiles mean the same thing.
export const SGLANG_TTFT_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400];
export const SGLANG_E2E_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400];
export const SGLANG_ITL_BUCKETS = [0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: ScrapeCounter;
  private readonly promptTokens: ScrapeCounter;
  private readonly generationTokens: ScrapeCounter;
  private readonly ttft: ScrapeHistogram;
  private readonly itl: ScrapeHistogram;
  private readonly e2e: ScrapeHistogram;
  private readonly gauges: { [K in 'running' | 'waiting' | 'pagesUsed' | 'pagesTotal']: Gauge };
  private readonly sglang: {
    promptTokens: ScrapeCounter;
    generationTokens: ScrapeCounter;
    cachedTokens: ScrapeCounter;
    requests: ScrapeCounter;
    aborted: ScrapeCounter;
    ttft: ScrapeHistogram;
    itl: ScrapeHistogram;
    e2e: ScrapeHistogram;
    running: Gauge;
    queued: Gauge;
    usedTokens: Gauge;
    tokenUsage: Gauge;
    maxTotalTokens: Gauge;
    genThroughput: Gauge;
    cacheHitRate: Gauge;
  };
  private readonly tokenRate = new TokenRate();

  constructor(modelName: string) {
    const r = this.registry;
    r.setDefaultLabels({ model_name: modelName });
    const registers = [r];
    const gauge = (name: string, help: string): Gauge => new Gauge({ name, help, registers });
    this.requests = new ScrapeCounter(r, 'pd_node_requests_total', 'Generation requests by outcome.', { name: 'outcome', values: OUTCOMES });
    this.promptTokens = new ScrapeCounter(r, 'pd_node_prompt_tokens_total', 'Prompt tokens of accepted requests.');
    this.generationTokens = new ScrapeCounter(r, 'pd_node_generation_tokens_total', 'Generated tokens.');
    this.ttft = new ScrapeHistogram(r, 'pd_node_time_to_first_token_seconds', 'Time from request arrival to its first output token.', LATENCY_BUCKETS);
    this.itl = new ScrapeHistogram(r, 'pd_node_inter_token_latency_seconds', 'Time between consecutive output tokens.', TOKEN_GAP_BUCKETS);
    this.e2e = new ScrapeHistogram(r, 'pd_node_e2e_request_latency_seconds', 'Time from request arrival to its end.', LATENCY_BUCKETS);
    this.gauges = {
      running: gauge('pd_node_num_running_reqs', 'Requests in the running batch.'),
      waiting: gauge('pd_node_num_waiting_reqs', 'Requests waiting for admission.'),
      pagesUsed: gauge('pd_node_kv_pages_used', 'KV cache pages in use.'),
      pagesTotal: gauge('pd_node_kv_pages_total', 'KV cache pages in the pool.'),
    };
    this.sglang = {
      promptTokens: new ScrapeCounter(r, 'sglang:prompt_tokens_total', 'Number of prefill tokens processed.'),
      generationTokens: new ScrapeCounter(r, 'sglang:generation_tokens_total', 'Number of generation tokens processed.'),
      cachedTokens: new ScrapeCounter(r, 'sglang:cached_tokens_total', 'Number of cached prompt tokens (pd-node has no prefix cache: 0).'),
      requests: new ScrapeCounter(r, 'sglang:num_requests_total', 'Number of requests processed.'),
      aborted: new ScrapeCounter(r, 'sglang:num_aborted_requests_total', 'Number of requests aborted.'),
      ttft: new ScrapeHistogram(r, 'sglang:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', SGLANG_TTFT_BUCKETS),
      itl: new ScrapeHistogram(r, 'sglang:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', SGLANG_ITL_BUCKETS),
      e2e: new ScrapeHistogram(r, 'sglang:e2e_request_latency_seconds', 'Histogram of End-to-end request latency in seconds', SGLANG_E2E_BUCKETS),
      running: gauge('sglang:num_running_reqs', 'The number of running requests.'),
      queued: gauge('sglang:num_queue_reqs', 'The number of requests in the waiting queue.'),
      usedTokens: gauge('sglang:num_used_tokens', 'The number of used tokens.'),
      tokenUsage: gauge('sglang:token_usage', 'The token usage.'),
      maxTotalTokens: gauge('sglang:max_total_num_tokens', 'Maximum total number of tokens in the KV cache pool.'),
      genThroughput: gauge('sglang:gen_throughput', 'The generation throughput (token/s).'),
      cacheHitRate: gauge('sglang:cache_hit_rate', 'The prefix cache hit rate.'),
    };
  }

  /** A prompt's run ended; `cachedTokens`: prompt tokens its prefill did not compute (0 here). */
  requestEnded(outcome: RequestOutcome, latencySeconds: number, cachedTokens = 0): void {
    this.requests.incAt(OUTCOMES.indexOf(outcome));
    this.e2e.observe(latencySeconds);
    this.sglang.e2e.observe(latencySeconds);
    this.sglang.cachedTokens.inc(cachedTokens);
    if (outcome === 'finished') this.sglang.requests.inc();
    else if (outcome === 'aborted') this.sglang.aborted.inc();
  }

  accepted(promptTokens: number): void {
    this.promptTokens.inc(promptTokens);
    this.sglang.promptTokens.inc(promptTokens);
  }

  /** `now`: performance.now() when the tokens arrived (the caller's one clock read). */
  firstTokens(count: number, sinceArrivalSeconds: number, now: number): void {
    this.generated(count, now);
    this.ttft.observe(sinceArrivalSeconds);
    this.sglang.ttft.observe(sinceArrivalSeconds);
  }

  /** `count` tokens arrived together `gapSeconds` after the previous ones: each gets an equal share. */
  laterTokens(count: number, gapSeconds: number, now: number): void {
    this.generated(count, now);
    this.itl.observeMany(gapSeconds / count, count);
    this.sglang.itl.observeMany(gapSeconds / count, count);
  }

  async render(stats: SchedulerStats): Promise<string> {
    const used = stats.totalPages - stats.freePages;
    this.gauges.running.set(stats.running);
    this.gauges.waiting.set(stats.waiting);
    this.gauges.pagesUsed.set(used);
    this.gauges.pagesTotal.set(stats.totalPages);
    const s = this.sglang;
    s.running.set(stats.running);
    s.queued.set(stats.waiting);
    s.usedTokens.set(used * stats.pageSize);
    s.tokenUsage.set(stats.totalPages === 0 ? 0 : used / stats.totalPages);
    s.maxTotalTokens.set(stats.maxTotalTokens);
    s.genThroughput.set(this.genThroughput());
    const prompt = s.promptTokens.total;
    s.cacheHitRate.set(prompt === 0 ? 0 : s.cachedTokens.total / prompt);
    return this.registry.metrics();
  }

  /** Output tokens per second lately: the gauge, and /get_server_info's `last_gen_throughput`. */
  genThroughput(): number {
    return this.tokenRate.perSecond(performance.now());
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private generated(count: number, now: number): void {
    this.generationTokens.inc(count);
    this.sglang.generationTokens.inc(count);
    this.tokenRate.add(count, now);
  }
}
