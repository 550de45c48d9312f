/**
 * GET /metrics on a real node: the histograms exist, counters match the requests made (health
 * probes excluded), gauges reflect the scheduler, and a second server in the same process keeps its
 * own registry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { createLogger } from '../../src/log/logger.js';
import { startNode, type NodeHandle } from '../../src/node/start-node.js';
import { createHttpServer } from '../../src/server/http-server.js';
import { metricValue, postJson, sseChunks } from './support.js';

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return res.text();
}

describe('GET /metrics', () => {
  let node: NodeHandle;
  before(async () => {
    node = await startNode({ port: 0, logLevel: 'warn' });
  });
  after(async () => {
    await node?.close();
  });

  test('histograms and gauges are exported before any request', async () => {
    const text = await scrape(node.url);
    for (const name of ['pd_node_time_to_first_token_seconds', 'pd_node_inter_token_latency_seconds', 'pd_node_e2e_request_latency_seconds']) {
      assert.match(text, new RegExp(`# TYPE ${name} histogram`));
    }
    const stats = await node.client.stats();
    assert.equal(metricValue(text, 'pd_node_kv_pages_total'), stats.totalPages);
    assert.equal(metricValue(text, 'pd_node_kv_pages_used'), 0);
    assert.equal(metricValue(text, 'pd_node_num_running_reqs'), 0);
  });

  test('counters and histogram counts follow the requests made', async () => {
    const before = await scrape(node.url);
    const count = (text: string, series: string): number => metricValue(text, series) - metricValue(before, series);

    const a = await postJson(`${node.url}/generate`, { text: ['a b c', 'd e'], sampling_params: { max_new_tokens: 5, ignore_eos: true } });
    const res = await fetch(`${node.url}/generate`, { method: 'POST', body: JSON.stringify({ text: 'f g', stream: true, sampling_params: { max_new_tokens: 7, ignore_eos: true } }) });
    const streamed = sseChunks(await res.text()).at(-1);
    const openai = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const chat = await openai.chat.completions.create({ model: node.client.model.servedModelName, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    const rejected = await postJson(`${node.url}/generate`, { input_ids: Array(node.client.model.contextLength + 1).fill(3) });
    assert.equal(rejected.status, 400);
    assert.equal((await fetch(`${node.url}/health_generate`)).status, 200);

    const after = await scrape(node.url);
    assert.equal(count(after, 'pd_node_requests_total{outcome="finished"'), 4, 'two batch prompts, one stream, one chat');
    assert.equal(count(after, 'pd_node_requests_total{outcome="rejected"'), 1);
    const metas = [...a.json.map((o: { meta_info: unknown }) => o.meta_info), streamed.meta_info];
    const completion = metas.reduce((n, m) => n + m.completion_tokens, 0) + chat.usage!.completion_tokens;
    const prompt = metas.reduce((n, m) => n + m.prompt_tokens, 0) + chat.usage!.prompt_tokens;
    assert.equal(count(after, 'pd_node_generation_tokens_total'), completion);
    assert.equal(count(after, 'pd_node_prompt_tokens_total'), prompt);
    assert.equal(count(after, 'pd_node_e2e_request_latency_seconds_count'), 5, 'finished and rejected requests');
    assert.equal(count(after, 'pd_node_time_to_first_token_seconds_count'), 4);
    assert.ok(count(after, 'pd_node_inter_token_latency_seconds_count') >= 1);
  });

  test('a second server in the same process has its own registry', async () => {
    const second = await createHttpServer({ client: node.client, options: node.options, logger: createLogger('warn') });
    try {
      await second.listen({ host: '127.0.0.1', port: 0 });
      const address = second.server.address();
      assert.ok(address !== null && typeof address === 'object');
      const url = `http://127.0.0.1:${address.port}`;
      assert.equal((await postJson(`${url}/generate`, { text: 'x', sampling_params: { max_new_tokens: 2 } })).status, 200);
      const mine = await scrape(url);
      assert.equal(metricValue(mine, 'pd_node_requests_total{outcome="finished"'), 1);
      assert.ok(metricValue(await scrape(node.url), 'pd_node_requests_total{outcome="finished"') >= 4, 'the first server keeps its counts');
    } finally {
      await second.close();
    }
  });
});
