/**
 * A client that goes away mid-request: its generations are aborted and their KV pages freed, for
 * streamed and whole responses alike, and the node keeps serving. The requests are long (8 prompts x
 * 1800 tokens, seconds of work) so they are still running when the client leaves; the metrics prove
 * they were aborted rather than finished.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/node/start-node.js';
import { metricValue, postJson } from './support.js';
import { waitFor, waitForIdle } from '../helpers/wait.js';

const LONG = JSON.stringify({
  text: Array.from({ length: 8 }, (_, i) => `story number ${i}`),
  sampling_params: { max_new_tokens: 1800, ignore_eos: true },
});

async function metrics(node: NodeHandle): Promise<string> {
  return (await fetch(`${node.url}/metrics`)).text();
}

describe('client disconnect', () => {
  let node: NodeHandle;
  before(async () => {
    node = await startNode({ port: 0, logLevel: 'warn' });
  });
  after(async () => {
    await node?.close();
  });

  test('leaving a stream mid-way aborts its requests and frees their pages', async () => {
    const controller = new AbortController();
    const res = await fetch(`${node.url}/generate`, { method: 'POST', body: LONG.replace('"text"', '"stream":true,"text"'), signal: controller.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^data: \{/);
    const busy = await node.client.stats();
    assert.ok(busy.pageTables > 0 && busy.freePages < busy.totalPages, 'the requests hold pages while streaming');

    controller.abort();
    await reader.closed.catch(() => undefined);
    const idle = await waitForIdle(node.client);
    assert.equal(idle.freePages, idle.totalPages);
    const text = await metrics(node);
    assert.equal(metricValue(text, 'pd_node_requests_total{outcome="aborted"'), 8);
    assert.equal(metricValue(text, 'pd_node_requests_total{outcome="finished"'), 0);
  });

  test('leaving before a whole response aborts its requests and frees their pages', async () => {
    const controller = new AbortController();
    const pending = fetch(`${node.url}/generate`, { method: 'POST', body: LONG, signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => node.client.stats(), (s) => s.running > 0, 'the batch is running');
    controller.abort();
    assert.equal(((await pending) as Error).name, 'AbortError');
    await waitForIdle(node.client);
    assert.equal(metricValue(await metrics(node), 'pd_node_requests_total{outcome="aborted"'), 16);
  });

  test('the node serves normally afterwards', async () => {
    const { status, json } = await postJson(`${node.url}/generate`, { text: 'hello', sampling_params: { max_new_tokens: 4, ignore_eos: true } });
    assert.equal(status, 200);
    assert.equal(json.meta_info.completion_tokens, 4);
    await waitForIdle(node.client);
  });
});
