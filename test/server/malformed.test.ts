/**
 * Malformed requests against a real node: each is a 400 (404 for unknown models and routes) with a
 * JSON error naming the field, nothing reaches the KV pool, and the node stays healthy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/node/start-node.js';
import { getJson, postJson, postRaw } from './support.js';
import { waitForIdle } from '../helpers/wait.js';

const MAX_BATCH = 4;

interface Case {
  name: string;
  path: string;
  /** A JSON value, or the raw body when a string. */
  body: unknown;
  message: RegExp;
  status?: number;
}

const ok = { max_new_tokens: 2 };

const CASES: Case[] = [
  { name: 'bad JSON', path: '/generate', body: '{"text": "hi"', message: /not valid JSON/ },
  { name: 'empty body', path: '/generate', body: '', message: /^request body must be object$/ },
  { name: 'body not an object', path: '/generate', body: [1, 2], message: /request body must be object/ },
  { name: 'text of the wrong type', path: '/generate', body: { text: 5 }, message: /^text must be string or array or null$/ },
  { name: 'empty prompt', path: '/generate', body: { text: '' }, message: /^text must not be empty$/ },
  { name: 'empty prompt list', path: '/generate', body: { text: [] }, message: /^text must not be empty$/ },
  { name: 'empty prompt in a list', path: '/generate', body: { text: ['a', ''] }, message: /^text\[1\] must not be empty$/ },
  { name: 'empty input_ids', path: '/generate', body: { input_ids: [] }, message: /^input_ids must not be empty$/ },
  { name: 'both text and input_ids', path: '/generate', body: { text: 'a', input_ids: [1] }, message: /exactly one of text and input_ids/ },
  { name: 'neither text nor input_ids', path: '/generate', body: { sampling_params: ok }, message: /exactly one of text and input_ids/ },
  { name: 'max_new_tokens -1', path: '/generate', body: { text: 'a', sampling_params: { max_new_tokens: -1 } }, message: /^sampling_params\.max_new_tokens must be >= 0$/ },
  { name: 'max_new_tokens 1.5', path: '/generate', body: { text: 'a', sampling_params: { max_new_tokens: 1.5 } }, message: /sampling_params\.max_new_tokens must be integer/ },
  { name: 'max_new_tokens as a string', path: '/generate', body: { text: 'a', sampling_params: { max_new_tokens: '5' } }, message: /sampling_params\.max_new_tokens must be integer/ },
  { name: 'temperature -1', path: '/generate', body: { text: 'a', sampling_params: { temperature: -1 } }, message: /sampling_params\.temperature must be >= 0/ },
  { name: 'top_p 0', path: '/generate', body: { text: 'a', sampling_params: { top_p: 0 } }, message: /sampling_params\.top_p must be > 0/ },
  { name: 'top_p 1.5', path: '/generate', body: { text: 'a', sampling_params: { top_p: 1.5 } }, message: /sampling_params\.top_p must be <= 1/ },
  { name: 'top_k 0', path: '/generate', body: { text: 'a', sampling_params: { top_k: 0 } }, message: /sampling_params\.top_k must be -1 .* or at least 1/ },
  { name: 'top_k -2', path: '/generate', body: { text: 'a', sampling_params: { top_k: -2 } }, message: /sampling_params\.top_k must be >= -1/ },
  { name: 'min_p 2', path: '/generate', body: { text: 'a', sampling_params: { min_p: 2 } }, message: /sampling_params\.min_p must be <= 1/ },
  { name: 'seed 1.5', path: '/generate', body: { text: 'a', sampling_params: { seed: 1.5 } }, message: /sampling_params\.seed must be integer/ },
  { name: 'stop of the wrong type', path: '/generate', body: { text: 'a', sampling_params: { stop: 5 } }, message: /sampling_params\.stop must be string or array/ },
  { name: 'stop_token_ids out of vocabulary', path: '/generate', body: { text: 'a', sampling_params: { stop_token_ids: [1, 1_000_000] } }, message: /sampling_params\.stop_token_ids\[1\] .*vocabulary/ },
  { name: 'out-of-vocabulary input id', path: '/generate', body: { input_ids: [1, 1_000_000] }, message: /^input_ids\[1\] is 1000000, outside the vocabulary/ },
  { name: 'negative input id', path: '/generate', body: { input_ids: [3, -1] }, message: /^input_ids\[1\] must be >= 0$/ },
  { name: 'fractional input id', path: '/generate', body: { input_ids: [3, 1.5] }, message: /^input_ids\[1\] must be integer or array$/ },
  { name: 'ids and lists mixed', path: '/generate', body: { input_ids: [1, [2]] }, message: /input_ids must be a list of token ids or a list of such lists/ },
  { name: 'batch over the limit', path: '/generate', body: { text: Array(MAX_BATCH + 1).fill('a') }, message: new RegExp(`at most ${MAX_BATCH} per request`) },
  { name: 'unknown field', path: '/generate', body: { text: 'a', colour: 'blue' }, message: /^unknown field colour$/ },
  { name: 'unknown sampling param', path: '/generate', body: { text: 'a', sampling_params: { colour: 1 } }, message: /^unknown field sampling_params\.colour$/ },
  { name: 'SGLang sampling param without an implementation, not off', path: '/generate', body: { text: 'a', sampling_params: { frequency_penalty: 1 } }, message: /^sampling_params\.frequency_penalty = 1 is not supported: penalties are not implemented/ },
  { name: 'SGLang field without an implementation, not off', path: '/generate', body: { text: 'a', lora_path: 'adapter-1' }, message: /^lora_path = "adapter-1" is not supported: no LoRA adapters/ },
  { name: 'sampling_params of the wrong type', path: '/generate', body: { text: 'a', sampling_params: 'greedy' }, message: /^sampling_params must be object or null$/ },
  { name: 'stream of the wrong type', path: '/generate', body: { text: 'a', stream: 'yes' }, message: /^stream must be boolean or null$/ },
  { name: 'a rid list of the wrong length for a batch', path: '/generate', body: { text: ['a', 'b'], rid: ['r'] }, message: /rid must be a list with one id per prompt/ },
  { name: 'the same rid twice in a batch', path: '/generate', body: { text: ['a', 'b'], rid: ['r', 'r'] }, message: /already in flight/ },
  { name: 'prompt longer than the context', path: '/generate', body: { input_ids: Array(5000).fill(3) }, message: /context length/ },
  { name: 'completions: n = 2', path: '/v1/completions', body: { prompt: 'a', n: 2 }, message: /^n must be 1/ },
  { name: 'completions: no prompt', path: '/v1/completions', body: { max_tokens: 2 }, message: /^prompt is required$/ },
  { name: 'completions: max_tokens -1', path: '/v1/completions', body: { prompt: 'a', max_tokens: -1 }, message: /^max_tokens must be >= 0$/ },
  { name: 'completions: best_of 2', path: '/v1/completions', body: { prompt: 'a', best_of: 2 }, message: /^best_of = 2 is not supported: one candidate per prompt/ },
  { name: 'completions: prompt mixing text and ids', path: '/v1/completions', body: { prompt: ['a', 5] }, message: /must not mix strings and token ids/ },
  { name: 'completions: logprobs 50', path: '/v1/completions', body: { prompt: 'a', logprobs: 50 }, message: /^logprobs must be <= 20$/ },
  { name: 'completions: presence_penalty', path: '/v1/completions', body: { prompt: 'a', presence_penalty: 0.5 }, message: /presence_penalty is not supported/ },
  { name: 'completions: unsupported echo', path: '/v1/completions', body: { prompt: 'a', echo: true }, message: /^echo = true is not supported: the prompt is not echoed back/ },
  { name: 'chat: no messages', path: '/v1/chat/completions', body: { messages: [] }, message: /^messages must not be empty$/ },
  { name: 'chat: unknown role', path: '/v1/chat/completions', body: { messages: [{ role: 'wizard', content: 'hi' }] }, message: /^messages\[0\]\.role must be one of "system", "developer", "user", "assistant"$/ },
  { name: 'chat: message without content', path: '/v1/chat/completions', body: { messages: [{ role: 'user' }] }, message: /^messages\[0\]\.content is required$/ },
  { name: 'chat: image part', path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, message: /messages\[0\]\.content\[0\]/ },
  { name: 'chat: top_logprobs without logprobs', path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'hi' }], top_logprobs: 2 }, message: /top_logprobs requires logprobs/ },
  { name: 'chat: unknown model', path: '/v1/chat/completions', body: { model: 'gpt-17', messages: [{ role: 'user', content: 'hi' }] }, message: /The model 'gpt-17' does not exist/, status: 404 },
];

describe('malformed requests', () => {
  let node: NodeHandle;
  before(async () => {
    node = await startNode({ port: 0, logLevel: 'warn', maxBatchSize: MAX_BATCH });
  });
  after(async () => {
    await node?.close();
  });

  for (const c of CASES) {
    test(`${c.name}: ${c.status ?? 400} naming the problem`, async () => {
      const raw = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
      const { status, headers, json } = await postRaw(`${node.url}${c.path}`, raw);
      assert.equal(status, c.status ?? 400, JSON.stringify(json));
      assert.match(headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(json.error.type, 'invalid_request_error');
      assert.match(json.error.message, c.message);
    });
  }

  test('the error names the field in `param`', async () => {
    const { json } = await postJson(`${node.url}/generate`, { text: 'a', sampling_params: { temperature: -1 } });
    assert.equal(json.error.param, 'sampling_params.temperature');
    const model = await postJson(`${node.url}/v1/completions`, { model: 'nope', prompt: 'a' });
    assert.equal(model.json.error.code, 'model_not_found');
  });

  test('unknown routes are JSON 404s', async () => {
    for (const [method, path] of [['GET', '/nope'], ['POST', '/v1/embeddings'], ['GET', '/generate']]) {
      const res = await fetch(`${node.url}${path}`, { method });
      assert.equal(res.status, 404, `${method} ${path}`);
      const json = (await res.json()) as { error: { message: string } };
      assert.match(json.error.message, new RegExp(`${method} ${path}`));
    }
  });

  test('a body without a JSON content type is still read as JSON, like SGLang', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
      const { status, json } = await postJson(`${node.url}/generate`, { text: 'a', sampling_params: ok }, type);
      assert.equal(status, 200, type);
      assert.equal(json.meta_info.completion_tokens <= 2, true);
    }
  });

  test('afterwards the node is healthy and every KV page is free', async () => {
    assert.equal((await getJson(`${node.url}/health`)).status, 200);
    const stats = await waitForIdle(node.client);
    assert.equal(stats.freePages, stats.totalPages);
    const { status } = await postJson(`${node.url}/generate`, { text: 'still fine', sampling_params: ok });
    assert.equal(status, 200);
  });
});
