/**
 * SGLang's Grafana dashboard against pd-node: every metric the dashboard's panels query exists on a
 * node's /metrics with the `model_name` label, with SGLang's types and buckets, and one request moves
 * it by one request's worth; on a colocated node, and on both nodes of a PD pair behind the router.
 *
 * The queries, read from SGLang's examples/monitoring/grafana/dashboards/json/sglang-dashboard.json:
 *   histogram_quantile(q, sum by (le) (rate(sglang:e2e_request_latency_seconds_bucket[...])))
 *   avg(rate(sglang:e2e_request_latency_seconds_sum[...]) / rate(sglang:e2e_request_latency_seconds_count[...]))
 *   sum(increase(sglang:e2e_request_latency_seconds_bucket{model_name=~"$model_name"}[...])) by (le)
 *   the same three for sglang:time_to_first_token_seconds
 *   sglang:num_running_reqs, sglang:gen_throughput, sglang:cache_hit_rate, sglang:num_queue_reqs
 *   template variables: label_values(instance), label_values(model_name)
 * Beside those, SGLang's collector.py exports (and its docs chart) the token counters, the
 * inter-token latency histogram and the token usage gauges checked here too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/node/start-node.js';
import { postJson, stopAll, type NodeProcess } from '../helpers/processes.js';
import { startCluster, type Cluster } from '../pd/cluster.js';

const DASHBOARD_HISTOGRAMS = ['sglang:e2e_request_latency_seconds', 'sglang:time_to_first_token_seconds'];
const DASHBOARD_GAUGES = ['sglang:num_running_reqs', 'sglang:gen_throughput', 'sglang:cache_hit_rate', 'sglang:num_queue_reqs'];
const OTHER_COUNTERS = ['sglang:prompt_tokens_total', 'sglang:generation_tokens_total', 'sglang:num_requests_total', 'sglang:cached_tokens_total', 'sglang:num_aborted_requests_total'];
const OTHER_GAUGES = ['sglang:token_usage', 'sglang:num_used_tokens', 'sglang:max_total_num_tokens'];

/** SGLang's default buckets (collector.py), as its dashboards' quantiles assume them. */
const SGLANG_BUCKETS: Record<string, number[]> = {
  'sglang:e2e_request_latency_seconds': [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400],
  'sglang:time_to_first_token_seconds': [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400],
  'sglang:inter_token_latency_seconds': [0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8],
};

const TOKENS = 8;
const REQUEST = { text: 'Let me tell you a lonnng story ', sampling_params: { temperature: 0, max_new_tokens: TOKENS, ignore_eos: true } };

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  samples: Sample[];
  types: Map<string, string>;
}

async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of (await res.text()).split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) types.set(type[1], type[2]);
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/** The one sample of `name` whose labels include `match`. */
function value(s: Scrape, name: string, match: Record<string, string> = {}): number {
  const found = s.samples.filter((x) => x.name === name && Object.entries(match).every(([k, v]) => x.labels[k] === v));
  assert.equal(found.length, 1, `one ${name} ${JSON.stringify(match)} sample (found ${found.length})`);
  return found[0].value;
}

/** Every SGLang metric the dashboard (and collector.py) names is there, typed as SGLang types it, labelled with the model. */
function checkShape(s: Scrape, model: string): void {
  for (const name of DASHBOARD_HISTOGRAMS) assert.equal(s.types.get(name), 'histogram', name);
  for (const name of [...DASHBOARD_GAUGES, ...OTHER_GAUGES]) assert.equal(s.types.get(name), 'gauge', name);
  for (const name of OTHER_COUNTERS) assert.equal(s.types.get(name), 'counter', name);
  assert.equal(s.types.get('sglang:inter_token_latency_seconds'), 'histogram');
  const sglang = s.samples.filter((x) => x.name.startsWith('sglang:'));
  assert.ok(sglang.length > 0);
  for (const x of sglang) assert.equal(x.labels.model_name, model, `${x.name} carries model_name`);
  for (const [name, buckets] of Object.entries(SGLANG_BUCKETS)) {
    const les = s.samples.filter((x) => x.name === `${name}_bucket`).map((x) => x.labels.le);
    assert.deepEqual(les, [...buckets.map(String), '+Inf'], `${name} has SGLang's buckets`);
  }
}

/** What one request changed: histogram counts, +Inf buckets and sums, the request counter. */
function checkOneRequest(before: Scrape, after: Scrape, what: string): void {
  const delta = (name: string, match: Record<string, string> = {}): number => value(after, name, match) - value(before, name, match);
  for (const name of DASHBOARD_HISTOGRAMS) {
    assert.equal(delta(`${name}_count`), 1, `${what}: ${name}_count`);
    assert.equal(delta(`${name}_bucket`, { le: '+Inf' }), 1, `${what}: ${name} +Inf bucket`);
    assert.ok(delta(`${name}_sum`) > 0, `${what}: ${name}_sum grew`);
  }
  assert.equal(delta('sglang:num_requests_total'), 1, `${what}: num_requests_total`);
  assert.equal(value(after, 'sglang:num_running_reqs'), 0, `${what}: nothing runs after the answer`);
  assert.equal(value(after, 'sglang:num_queue_reqs'), 0, `${what}: nothing waits`);
  assert.equal(value(after, 'sglang:cache_hit_rate'), 0, `${what}: no prefix cache, so no hits`);
  assert.equal(delta('sglang:cached_tokens_total'), 0);
  const usage = value(after, 'sglang:token_usage');
  assert.ok(usage >= 0 && usage <= 1, `${what}: token_usage ${usage} is a fraction`);
  assert.ok(value(after, 'sglang:max_total_num_tokens') > 0);
}

describe("SGLang's dashboard metrics", () => {
  describe('a colocated node', () => {
    let node: NodeHandle;
    before(async () => {
      node = await startNode({ port: 0, logLevel: 'warn' });
    });
    after(async () => {
      await node?.close();
    });

    test('every metric the dashboard queries exists with model_name, and one request moves it', async () => {
      const model = node.client.model.servedModelName;
      const first = await scrape(node.url);
      checkShape(first, model);
      const res = await postJson(`${node.url}/generate`, REQUEST);
      assert.equal(res.status, 200);
      const meta = res.body.meta_info;
      assert.equal(meta.completion_tokens, TOKENS);
      const second = await scrape(node.url);
      checkShape(second, model);
      checkOneRequest(first, second, 'colocated');

      const delta = (name: string): number => value(second, name) - value(first, name);
      assert.equal(delta('sglang:prompt_tokens_total'), meta.prompt_tokens);
      assert.equal(delta('sglang:generation_tokens_total'), TOKENS);
      const gaps = delta('sglang:inter_token_latency_seconds_count');
      assert.ok(gaps >= 1 && gaps <= TOKENS - 1, `every token after the first is one inter-token gap (${gaps})`);
      // Tokens per second over the last 10 s: the request's tokens are in that window.
      assert.ok(value(second, 'sglang:gen_throughput') > 0, 'gen_throughput counts the tokens just generated');
      assert.equal(value(second, 'sglang:num_used_tokens'), 0, 'pages are free again');
      assert.equal(value(second, 'sglang:max_total_num_tokens'), (await node.client.stats()).maxTotalTokens);
      // pd-node's own names stay beside SGLang's.
      assert.equal(delta('pd_node_e2e_request_latency_seconds_count'), 1);
    });
  });

  describe('a PD pair behind the router', () => {
    let cluster: Cluster;
    let prefill: NodeProcess;
    let decode: NodeProcess;
    before(async () => {
      cluster = await startCluster('tcp');
      [prefill, decode] = await Promise.all([cluster.addNode('prefill'), cluster.addNode('decode')]);
      await cluster.waitForNodes([prefill, decode]);
    });
    after(async () => {
      await stopAll();
    });

    test('both nodes export the dashboard metrics, and each counts the request once', async () => {
      const model = ((await (await fetch(`${decode.url}/get_model_info`)).json()) as { served_model_name: string }).served_model_name;
      const before = await Promise.all([scrape(prefill.url), scrape(decode.url)]);
      const res = await postJson(`${cluster.router.url}/generate`, REQUEST);
      assert.equal(res.status, 200);
      assert.equal(res.body.meta_info.completion_tokens, TOKENS);
      const after = await Promise.all([scrape(prefill.url), scrape(decode.url)]);
      for (const [i, role] of (['prefill', 'decode'] as const).entries()) {
        checkShape(after[i], model);
        checkOneRequest(before[i], after[i], role);
      }
      const generated = (i: number): number => value(after[i], 'sglang:generation_tokens_total') - value(before[i], 'sglang:generation_tokens_total');
      assert.equal(generated(1), TOKENS, 'the decode node streams every token');
      assert.ok(value(after[1], 'sglang:gen_throughput') > 0, 'decode: gen_throughput counts them');
    });
  });
});
