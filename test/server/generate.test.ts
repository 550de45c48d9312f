/**
 * SGLang's /generate against a real node (startNode, default tiny model): whole, batch, streamed,
 * logprobs, client rids, and scheduler errors keeping their status.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/node/start-node.js';
import { postJson, sseChunks } from './support.js';
import { waitForIdle } from '../helpers/wait.js';

const PROMPT = 'Let me tell you a lonnng story ';
const GREEDY = { temperature: 0, max_new_tokens: 12, ignore_eos: true };

describe('POST /generate', () => {
  let node: NodeHandle;
  let url: string;
  before(async () => {
    node = await startNode({ port: 0, logLevel: 'warn' });
    url = `${node.url}/generate`;
  });
  after(async () => {
    await node?.close();
  });

  test('a text prompt returns text, output_ids and SGLang meta_info', async () => {
    const { status, json } = await postJson(url, { text: PROMPT, sampling_params: GREEDY });
    assert.equal(status, 200);
    assert.equal(typeof json.text, 'string');
    assert.equal(json.output_ids.length, 12);
    const meta = json.meta_info;
    assert.match(meta.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(meta.finish_reason, { type: 'length', length: 12 });
    assert.ok(meta.prompt_tokens > 0);
    assert.equal(meta.completion_tokens, 12);
    assert.equal(typeof meta.cached_tokens, 'number');
    assert.ok(meta.e2e_latency > 0);
    assert.equal(meta.input_token_logprobs, undefined, 'no logprobs unless asked');
  });

  test('greedy generation is reproducible and a client rid is kept', async () => {
    const a = await postJson(url, { text: PROMPT, sampling_params: GREEDY, rid: 'my-request-1' });
    const b = await postJson(url, { text: PROMPT, sampling_params: GREEDY });
    assert.equal(a.json.meta_info.id, 'my-request-1');
    assert.deepEqual(a.json.output_ids, b.json.output_ids);
    assert.equal(a.json.text, b.json.text);
  });

  test('input_ids prompt counts exactly its tokens', async () => {
    const { status, json } = await postJson(url, { input_ids: [5, 6, 7], sampling_params: { max_new_tokens: 3 } });
    assert.equal(status, 200);
    assert.equal(json.meta_info.prompt_tokens, 3);
    assert.ok(json.output_ids.length >= 1 && json.output_ids.length <= 3);
  });

  test('a list of prompts returns a list, in order, equal to the single answers', async () => {
    const prompts = ['The sky is', PROMPT, 'Once upon a time'];
    const { status, json } = await postJson(url, { text: prompts, sampling_params: GREEDY });
    assert.equal(status, 200);
    assert.ok(Array.isArray(json));
    assert.equal(json.length, 3);
    assert.equal(new Set(json.map((o: { meta_info: { id: string } }) => o.meta_info.id)).size, 3, 'one id per prompt');
    for (const [i, prompt] of prompts.entries()) {
      const single = await postJson(url, { text: prompt, sampling_params: GREEDY });
      assert.deepEqual(json[i].output_ids, single.json.output_ids, `prompt ${i}`);
    }
    const ids = await postJson(url, { input_ids: [[5, 6], [7, 8, 9]], sampling_params: GREEDY, rid: ['x-1', 'x-2'] });
    assert.deepEqual(ids.json.map((o: { meta_info: { id: string; prompt_tokens: number } }) => [o.meta_info.id, o.meta_info.prompt_tokens]), [['x-1', 2], ['x-2', 3]]);
  });

  test('stream: SSE chunks with cumulative text, finish_reason on the last, then [DONE]', async () => {
    const whole = await postJson(url, { text: PROMPT, sampling_params: GREEDY });
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: PROMPT, sampling_params: GREEDY, stream: true }) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const chunks = sseChunks(await res.text());
    assert.ok(chunks.length >= 2, 'several chunks');
    for (const [i, chunk] of chunks.entries()) {
      assert.equal(chunk.meta_info.id, chunks[0].meta_info.id);
      assert.equal(chunk.index, undefined, 'no index for a single prompt');
      if (i > 0) {
        assert.ok(chunk.text.startsWith(chunks[i - 1].text), 'text is cumulative');
        assert.ok(chunk.output_ids.length >= chunks[i - 1].output_ids.length, 'ids are cumulative');
      }
      assert.equal(chunk.meta_info.finish_reason === null, i < chunks.length - 1, 'finish_reason only on the last chunk');
    }
    const last = chunks.at(-1);
    assert.deepEqual(last.meta_info.finish_reason, { type: 'length', length: 12 });
    assert.equal(last.text, whole.json.text, 'the stream ends with the whole answer');
    assert.deepEqual(last.output_ids, whole.json.output_ids);
  });

  test('stream of a batch tags every chunk with its prompt index', async () => {
    const res = await fetch(url, { method: 'POST', body: JSON.stringify({ text: ['a b', 'c d'], sampling_params: GREEDY, stream: true }) });
    const chunks = sseChunks(await res.text());
    assert.deepEqual(new Set(chunks.map((c) => c.index)), new Set([0, 1]));
    for (const index of [0, 1]) {
      const finals = chunks.filter((c) => c.index === index && c.meta_info.finish_reason !== null);
      assert.equal(finals.length, 1, `one final chunk for prompt ${index}`);
      assert.equal(finals[0].output_ids.length, 12);
    }
  });

  test('return_logprob gives one logprob per prompt and output token, top-k sorted', async () => {
    const ids = [5, 6, 7, 8];
    const { status, json } = await postJson(url, { input_ids: ids, sampling_params: GREEDY, return_logprob: true, logprob_start_len: 0, top_logprobs_num: 3 });
    assert.equal(status, 200);
    const meta = json.meta_info;
    assert.deepEqual(meta.input_token_logprobs.map((lp: unknown[]) => lp[1]), ids);
    assert.equal(meta.input_token_logprobs[0][0], null, 'the first prompt token has no logprob');
    assert.equal(meta.output_token_logprobs.length, meta.completion_tokens);
    for (const [i, [logprob, id]] of meta.output_token_logprobs.entries()) {
      assert.equal(id, json.output_ids[i]);
      assert.ok(logprob <= 0);
      const top = meta.output_top_logprobs[i];
      assert.equal(top.length, 3);
      assert.ok(top[0][0] >= top[1][0] && top[1][0] >= top[2][0], 'top logprobs sorted');
      assert.equal(top[0][1], id, 'greedy picks the most likely token');
    }
  });

  test('a rid already in flight is refused with 400, the first request unharmed', async () => {
    const body = { text: ['x', 'y'], sampling_params: GREEDY, rid: ['same', 'same'] };
    const dup = await postJson(url, body);
    assert.equal(dup.status, 400);
    assert.match(dup.json.error.message, /rid "same" is already in flight/);

    const controller = new AbortController();
    const first = await fetch(url, {
      method: 'POST',
      // Four long generations: seconds of work, so 'busy' is still running when the second request comes.
      body: JSON.stringify({ text: Array(4).fill(PROMPT), rid: ['busy', 'b1', 'b2', 'b3'], stream: true, sampling_params: { max_new_tokens: 1800, ignore_eos: true } }),
      signal: controller.signal,
    });
    const reader = first.body!.getReader();
    await reader.read(); // a first chunk: every prompt was accepted, 'busy' is in flight
    const second = await postJson(url, { text: PROMPT, rid: 'busy', sampling_params: GREEDY });
    assert.equal(second.status, 400);
    assert.equal(second.json.error.param, 'rid');
    controller.abort();
    await reader.closed.catch(() => undefined);
    await waitForIdle(node.client);
    const again = await postJson(url, { text: PROMPT, rid: 'busy', sampling_params: GREEDY });
    assert.equal(again.status, 200, 'the rid is free once its request ended');
  });

  test('a scheduler rejection keeps its status, streamed or not', async () => {
    const tooLong = Array.from({ length: node.client.model.contextLength + 10 }, () => 5);
    for (const stream of [false, true]) {
      const { status, json } = await postJson(url, { input_ids: tooLong, stream });
      assert.equal(status, 400, `stream: ${stream}`);
      assert.match(json.error.message, /context length/);
    }
    await waitForIdle(node.client);
  });
});

describe('POST /generate while the node shuts down', () => {
  test('an open stream gets an error chunk then [DONE]', async () => {
    const node = await startNode({ port: 0, logLevel: 'silent' });
    try {
      const res = await fetch(`${node.url}/generate`, {
        method: 'POST',
        body: JSON.stringify({ text: ['a', 'b', 'c', 'd'], stream: true, sampling_params: { max_new_tokens: 1800, ignore_eos: true } }),
      });
      const reader = res.body!.getReader();
      let body = new TextDecoder().decode((await reader.read()).value);
      const closing = node.close();
      for (let r = await reader.read(); !r.done; r = await reader.read()) body += new TextDecoder().decode(r.value);
      await closing;
      const data = body.trimEnd().split('\n\n').map((e) => e.replace(/^data: /, ''));
      assert.equal(data.at(-1), '[DONE]');
      const error = JSON.parse(data.at(-2)!);
      assert.equal(error.error.type, 'service_unavailable');
      assert.match(error.error.message, /shutting down/);
    } finally {
      await node.close();
    }
  });
});
