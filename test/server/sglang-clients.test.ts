/**
 * One node as SGLang's clients see it: every SGLang/OpenAI request field is accepted (implemented,
 * ignored, or accepted "off" and otherwise a 400 naming it) exactly as docs/sglang-compatibility.md
 * lists; bench_serving's payloads for every backend; SGLang's info endpoints (/server_info,
 * /model_info, /get_load, `internal_states`); prompt logprobs in the first stream chunk;
 * `max_new_tokens: 0`; errors on a streaming route before the stream starts are plain HTTP errors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/node/start-node.js';
import { CHAT_COMPAT, COMPLETION_COMPAT, GENERATE_COMPAT, MESSAGE_COMPAT, SAMPLING_COMPAT, type CompatTable } from '../../src/server/schemas/compat-fields.js';
import { GENERATE_BODY_SCHEMA } from '../../src/server/schemas/generate.js';
import { CHAT_BODY_SCHEMA, COMPLETION_BODY_SCHEMA } from '../../src/server/schemas/openai.js';
import { SAMPLING_PARAMS_SCHEMA } from '../../src/server/schemas/sampling.js';
import { benchAcceptLength, benchPath, benchPayload, benchText, BENCH_BACKENDS } from '../helpers/sglang-clients.js';
import { getJson, postJson, sseChunks } from './support.js';

const DOC = readFileSync(new URL('../../../docs/sglang-compatibility.md', import.meta.url), 'utf8');
const PROMPT = 'The quick brown fox jumps over the lazy dog because';

/** The rows of the docs table under the heading that starts with `title`: field -> status. */
function docRows(title: string): Map<string, string> {
  const start = DOC.indexOf(`### ${title}`);
  assert.ok(start >= 0, `docs/sglang-compatibility.md has a "### ${title}" table`);
  const end = DOC.indexOf('\n#', start + 1);
  const rows = new Map<string, string>();
  for (const m of DOC.slice(start, end < 0 ? undefined : end).matchAll(/^\| `([^`]+)` \| ([a-z ]+) \|/gm)) rows.set(m[1], m[2]);
  return rows;
}

const SECTIONS: [string, { properties: object }, CompatTable][] = [
  ['POST /generate', GENERATE_BODY_SCHEMA, GENERATE_COMPAT],
  ['`sampling_params`', SAMPLING_PARAMS_SCHEMA, SAMPLING_COMPAT],
  ['POST /v1/completions', COMPLETION_BODY_SCHEMA, COMPLETION_COMPAT],
  ['POST /v1/chat/completions', CHAT_BODY_SCHEMA, CHAT_COMPAT],
  ['`messages[]`', CHAT_BODY_SCHEMA.properties.messages.items, MESSAGE_COMPAT],
];

describe('SGLang clients against one node', () => {
  let node: NodeHandle;
  before(async () => {
    node = await startNode({ port: 0, logLevel: 'warn' });
  });
  after(async () => {
    await node?.close();
  });

  test('the docs table lists every accepted field with its status, as the code has it', () => {
    for (const [title, schema, compat] of SECTIONS) {
      const rows = docRows(title);
      const want = new Map(Object.keys(schema.properties).map((name) => [name, name in compat ? (compat[name].neutral ? 'accepted off' : 'ignored') : 'implemented']));
      assert.deepEqual(Object.fromEntries(rows), Object.fromEntries(want), `${title}: docs and code differ`);
    }
  });

  test('every field SGLang defines is accepted with its "off" value; a field nobody defines is a 400', async () => {
    const nulls = (table: CompatTable): Record<string, null> => Object.fromEntries(Object.keys(table).map((k) => [k, null]));
    const gen = await postJson(`${node.url}/generate`, { text: PROMPT, ...nulls(GENERATE_COMPAT), sampling_params: { max_new_tokens: 2, ...nulls(SAMPLING_COMPAT) } });
    assert.equal(gen.status, 200, JSON.stringify(gen.json));
    const cmpl = await postJson(`${node.url}/v1/completions`, { prompt: PROMPT, max_tokens: 2, ...nulls(COMPLETION_COMPAT) });
    assert.equal(cmpl.status, 200, JSON.stringify(cmpl.json));
    const chat = await postJson(`${node.url}/v1/chat/completions`, { messages: [{ role: 'user', content: PROMPT, ...nulls(MESSAGE_COMPAT) }], max_tokens: 2, ...nulls(CHAT_COMPAT) });
    assert.equal(chat.status, 200, JSON.stringify(chat.json));
    // Defaults as SGLang's clients send them, and hints with real values.
    const hints = await postJson(`${node.url}/generate`, { text: PROMPT, sampling_params: { max_new_tokens: 2, n: 1, repetition_penalty: 1, stream_interval: 4 }, lora_path: [null], return_hidden_states: false, priority: 7, routed_dp_rank: 0, custom_labels: { team: 'a' } });
    assert.equal(hints.status, 200, JSON.stringify(hints.json));
    // A string rid for a batch names the prompts rid_0, rid_1, ... as SGLang does.
    const batch = await postJson(`${node.url}/generate`, { text: [PROMPT, PROMPT], rid: 'job', sampling_params: { max_new_tokens: 1 } });
    assert.deepEqual(batch.json.map((o: any) => o.meta_info.id), ['job_0', 'job_1']);
    const unknown = await postJson(`${node.url}/generate`, { text: PROMPT, colour: 'blue' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.error.param, 'colour');
  });

  test('a field without an implementation here, not "off", is a 400 naming it', async () => {
    const cases: [string, (field: string) => Record<string, unknown>, CompatTable, string][] = [
      ['/generate', (f) => ({ text: PROMPT, [f]: 'x' }), GENERATE_COMPAT, ''],
      ['/generate', (f) => ({ text: PROMPT, sampling_params: { [f]: 'x' } }), SAMPLING_COMPAT, 'sampling_params.'],
      ['/v1/completions', (f) => ({ prompt: PROMPT, [f]: 'x' }), COMPLETION_COMPAT, ''],
      ['/v1/chat/completions', (f) => ({ messages: [{ role: 'user', content: PROMPT }], [f]: 'x' }), CHAT_COMPAT, ''],
      ['/v1/chat/completions', (f) => ({ messages: [{ role: 'user', content: PROMPT }, { role: 'assistant', content: 'ok', [f]: 'x' }] }), MESSAGE_COMPAT, 'messages[1].'],
    ];
    let checked = 0;
    for (const [path, body, table, prefix] of cases) {
      for (const [field, spec] of Object.entries(table)) {
        if (spec.neutral === undefined) continue;
        const { status, json } = await postJson(`${node.url}${path}`, body(field));
        assert.equal(status, 400, `${path} ${prefix}${field}: ${JSON.stringify(json)}`);
        assert.equal(json.error.param, `${prefix}${field}`);
        assert.match(json.error.message, /is not supported: /);
        checked++;
      }
    }
    assert.ok(checked > 80, `${checked} fields checked`);
  });

  test("bench_serving's payloads for every backend, streamed and whole, give the same greedy text", async () => {
    const model = node.client.model.servedModelName;
    const texts = new Map<string, string>();
    for (const backend of BENCH_BACKENDS) {
      for (const stream of [true, false]) {
        const res = await fetch(`${node.url}${benchPath(backend)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(benchPayload(backend, model, PROMPT, 8, stream)) });
        const body = await res.text();
        assert.equal(res.status, 200, `${backend} stream=${stream}: ${body}`);
        const text = benchText(backend, body, stream);
        assert.ok(text.length > 0, `${backend} stream=${stream} generated text`);
        texts.set(`${backend} ${stream}`, text);
      }
    }
    // Completions and /generate run the same prompt; chat wraps it in the template.
    for (const key of ['sglang false', 'sglang-oai true', 'sglang-oai false', 'vllm true', 'vllm false']) assert.equal(texts.get(key), texts.get('sglang true'), key);
    for (const key of ['sglang-oai-chat false', 'vllm-chat true', 'vllm-chat false']) assert.equal(texts.get(key), texts.get('sglang-oai-chat true'), key);
  });

  test('/model_info and /get_model_info carry SGLang\'s fields', async () => {
    for (const path of ['/get_model_info', '/model_info']) {
      const { status, json } = await getJson(`${node.url}${path}`);
      assert.equal(status, 200);
      assert.equal(json.model_path, node.client.model.modelPath);
      assert.equal(json.tokenizer_path, node.client.model.modelPath);
      assert.equal(json.is_generation, true);
      assert.ok('preferred_sampling_params' in json);
      assert.equal(json.has_image_understanding, false);
    }
  });

  test('/server_info and /get_server_info have internal_states as bench_serving reads them; /get_load', async () => {
    // Some output first, so the throughput is of real work.
    assert.equal((await postJson(`${node.url}/generate`, { text: PROMPT, sampling_params: { max_new_tokens: 16, temperature: 0, ignore_eos: true } })).status, 200);
    const stats = await node.client.stats();
    for (const path of ['/get_server_info', '/server_info']) {
      const { status, json } = await getJson(`${node.url}${path}`);
      assert.equal(status, 200);
      assert.equal(benchAcceptLength(json), null, 'no speculative decoding');
      const state = json.internal_states[0];
      assert.ok('avg_spec_accept_length' in state);
      assert.ok(state.last_gen_throughput > 0, `last_gen_throughput ${state.last_gen_throughput}`);
      assert.equal(state.memory_usage.token_capacity, stats.maxTotalTokens);
      assert.ok(state.memory_usage.kvcache > 0);
      assert.equal(json.max_total_num_tokens, stats.maxTotalTokens);
      assert.equal(json.disaggregation_mode, 'null');
    }
    const load = await getJson(`${node.url}/get_load`);
    assert.equal(load.status, 200);
    assert.deepEqual(load.json, [{ dp_rank: 0, num_reqs: 0, num_waiting_reqs: 0, num_tokens: 0 }]);
  });

  test("streaming with return_logprob: the prompt's logprobs are in the first chunk, as SGLang sends them", async () => {
    const body = { text: PROMPT, sampling_params: { max_new_tokens: 4, temperature: 0 }, return_logprob: true, logprob_start_len: 0, stream: true };
    const res = await fetch(`${node.url}/generate`, { method: 'POST', body: JSON.stringify(body) });
    const chunks = sseChunks(await res.text());
    const whole = await postJson(`${node.url}/generate`, { ...body, stream: false });
    const prompt = whole.json.meta_info.input_token_logprobs;
    assert.equal(prompt.length, whole.json.meta_info.prompt_tokens);
    assert.deepEqual(chunks[0].meta_info.input_token_logprobs, prompt, 'the first chunk has them all');
    assert.deepEqual(chunks.at(-1).meta_info.input_token_logprobs, prompt);
  });

  test('max_new_tokens 0 computes the prompt only: its logprobs, no output', async () => {
    const whole = await postJson(`${node.url}/generate`, { text: PROMPT, sampling_params: { max_new_tokens: 0 }, return_logprob: true, logprob_start_len: 0 });
    assert.equal(whole.status, 200, JSON.stringify(whole.json));
    assert.equal(whole.json.text, '');
    assert.deepEqual(whole.json.output_ids, []);
    assert.deepEqual(whole.json.meta_info.finish_reason, { type: 'length', length: 0 });
    assert.equal(whole.json.meta_info.input_token_logprobs.length, whole.json.meta_info.prompt_tokens);
    const res = await fetch(`${node.url}/generate`, { method: 'POST', body: JSON.stringify({ text: PROMPT, sampling_params: { max_new_tokens: 0 }, stream: true }) });
    const chunks = sseChunks(await res.text());
    assert.equal(chunks.length, 1);
    assert.equal(chunks[0].meta_info.completion_tokens, 0);
    const oai = await postJson(`${node.url}/v1/completions`, { prompt: PROMPT, max_tokens: 0 });
    assert.equal(oai.status, 200, JSON.stringify(oai.json));
    assert.equal(oai.json.choices[0].text, '');
    assert.equal(oai.json.usage.completion_tokens, 0);
  });

  test('an error on a streaming route before the stream starts is a plain HTTP error, not a 200 stream', async () => {
    for (const [path, body] of [
      ['/generate', { text: PROMPT, stream: true, lora_path: 'adapter-1' }],
      ['/v1/completions', { prompt: PROMPT, stream: true, best_of: 3 }],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: PROMPT }], stream: true, tools: [{ type: 'function', function: { name: 'f' } }] }],
    ] as const) {
      const res = await fetch(`${node.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
      assert.equal(res.status, 400, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.match(((await res.json()) as any).error.message, /is not supported/);
    }
  });
});
