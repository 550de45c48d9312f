/**
 * PD end to end on real processes (router hosting the registry, a prefill node, a decode node) for
 * each transfer backend that can run here: output through the router equals a colocated node's
 * token for token, the KV really moved (decode's transfer metrics), streaming and the openai client
 * work through the router, and both pools are whole again afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startNode, type NodeHandle } from '../../src/index.js';
import { TRANSFER_BACKEND_NAMES, transferBackend, type TransferBackendName } from '../../src/transfer/backends.js';
import { postJson, stopAll, waitForFreePool, type NodeProcess } from '../helpers/processes.js';
import { metricValue } from '../server/support.js';
import { startCluster, type Cluster } from './cluster.js';

const SHORT = 'Let me tell you a lonnng story ';
const MULTI_PAGE = 'The river ran past the old mill, and the miller counted every sack of grain twice. '.repeat(3);
const LONG = 'Chunked prefill splits this prompt into several forward steps on the prefill node. '.repeat(12);

// Every backend of the table that can run here (verbs: with an RDMA device), so a new backend is
// tested end to end by this file as soon as its line is in the table.
const runnable: TransferBackendName[] = [];
for (const name of TRANSFER_BACKEND_NAMES) if ((await transferBackend(name).unavailable()) === null) runnable.push(name);

for (const backend of runnable) {
  describe(`PD over ${backend}`, () => {
    let cluster: Cluster;
    let prefill: NodeProcess;
    let decode: NodeProcess;
    let colocated: NodeHandle;

    before(async () => {
      cluster = await startCluster(backend);
      // A small chunk size on prefill: long prompts are computed and transferred chunk by chunk.
      [prefill, decode, colocated] = await Promise.all([
        cluster.addNode('prefill', ['--chunked-prefill-size', '64']),
        cluster.addNode('decode'),
        startNode({ port: 0, logLevel: 'silent', modelPath: cluster.modelPath }),
      ]);
      await cluster.waitForNodes([prefill, decode]);
    });
    after(async () => {
      await colocated?.close();
      await stopAll();
    });

    const generate = (url: string, text: string, sampling: Record<string, unknown> = {}) =>
      postJson(`${url}/generate`, { text, sampling_params: { temperature: 0, max_new_tokens: 24, ignore_eos: true, ...sampling } });

    test('greedy output equals colocated: short, multi-page, and longer than the chunk size', async () => {
      for (const text of [SHORT, MULTI_PAGE, LONG]) {
        const [pd, local] = await Promise.all([generate(cluster.router.url, text), generate(colocated.url, text)]);
        assert.equal(pd.status, 200, JSON.stringify(pd.body));
        assert.deepEqual(pd.body.output_ids, local.body.output_ids);
        assert.equal(pd.body.text, local.body.text);
        assert.equal(pd.body.meta_info.prompt_tokens, local.body.meta_info.prompt_tokens);
        assert.deepEqual(pd.body.meta_info.finish_reason, { type: 'length', length: 24 });
      }
      const long = await generate(colocated.url, LONG);
      assert.ok(long.body.meta_info.prompt_tokens > 64 * 2, 'the long prompt spans several chunks');
    });

    test('seeded sampling continues the same random stream on decode', async () => {
      const sampling = { temperature: 0.9, top_p: 0.95, seed: 1234 };
      const [pd, local] = await Promise.all([generate(cluster.router.url, MULTI_PAGE, sampling), generate(colocated.url, MULTI_PAGE, sampling)]);
      assert.deepEqual(pd.body.output_ids, local.body.output_ids);
    });

    test('16 concurrent requests all equal their colocated outputs', async () => {
      const prompts = Array.from({ length: 16 }, (_, i) => `Request ${i}: ${'count the stars '.repeat(1 + (i % 6))}`);
      const [pd, local] = await Promise.all([
        Promise.all(prompts.map((p) => generate(cluster.router.url, p))),
        Promise.all(prompts.map((p) => generate(colocated.url, p))),
      ]);
      for (let i = 0; i < prompts.length; i++) assert.deepEqual(pd[i].body.output_ids, local[i].body.output_ids, `request ${i}`);
    });

    test('input logprobs come from prefill, output logprobs from decode, equal to colocated', async () => {
      const body = { text: MULTI_PAGE, sampling_params: { temperature: 0, max_new_tokens: 8 }, return_logprob: true, logprob_start_len: 0 };
      const [pd, local] = await Promise.all([postJson(`${cluster.router.url}/generate`, body), postJson(`${colocated.url}/generate`, body)]);
      assert.equal(pd.status, 200, JSON.stringify(pd.body));
      assert.equal(pd.body.meta_info.input_token_logprobs.length, local.body.meta_info.prompt_tokens);
      assert.deepEqual(pd.body.meta_info.input_token_logprobs, local.body.meta_info.input_token_logprobs);
      assert.deepEqual(pd.body.meta_info.output_token_logprobs, local.body.meta_info.output_token_logprobs);
    });

    test('the KV cache really moved: decode counted the bytes and coalesced runs', async () => {
      const metrics = await (await fetch(`${decode.url}/metrics`)).text();
      const bytes = metricValue(metrics, 'pd_node_kv_transfer_bytes_total');
      const runs = metricValue(metrics, 'pd_node_kv_transfer_runs_total');
      const rooms = metricValue(metrics, 'pd_node_kv_transfer_rooms_total');
      assert.ok(rooms >= 20, `rooms ${rooms}`);
      assert.ok(bytes > 0 && runs > 0, `bytes ${bytes}, runs ${runs}`);
      // Fresh pools hand out adjacent pages, so most rooms move in very few writes.
      assert.ok(runs < rooms * 4, `runs ${runs} for ${rooms} rooms`);
      assert.match(metrics, /pd_node_kv_transfer_exposed_ms_bucket/);
    });

    test('streaming through the router and the openai client', async () => {
      const res = await fetch(`${cluster.router.url}/generate`, {
        method: 'POST',
        body: JSON.stringify({ text: SHORT, stream: true, sampling_params: { temperature: 0, max_new_tokens: 12, ignore_eos: true } }),
      });
      const sse = await res.text();
      const events = sse.split('\n\n').filter((e) => e.startsWith('data: '));
      assert.equal(events.at(-1), 'data: [DONE]');
      const last = JSON.parse(events.at(-2)!.slice('data: '.length)) as { text: string };
      const whole = await generate(colocated.url, SHORT, { max_new_tokens: 12 });
      assert.equal(last.text, whole.body.text);

      const openai = new OpenAI({ baseURL: `${cluster.router.url}/v1`, apiKey: 'none', maxRetries: 0 });
      const model = (await openai.models.list()).data[0].id;
      const chat = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi there' }], max_tokens: 8, temperature: 0 });
      const localChat = await new OpenAI({ baseURL: `${colocated.url}/v1`, apiKey: 'none' }).chat.completions.create({ model: colocated.client.model.servedModelName, messages: [{ role: 'user', content: 'Hi there' }], max_tokens: 8, temperature: 0 });
      assert.equal(chat.choices[0].message.content, localChat.choices[0].message.content);
      let streamed = '';
      for await (const chunk of await openai.completions.create({ model, prompt: SHORT, max_tokens: 8, temperature: 0, stream: true })) streamed += chunk.choices[0]?.text ?? '';
      const completion = await openai.completions.create({ model, prompt: SHORT, max_tokens: 8, temperature: 0 });
      assert.equal(streamed, completion.choices[0].text);
    });

    test('both pools are whole again', async () => {
      await waitForFreePool(prefill.url);
      await waitForFreePool(decode.url);
    });
  });
}
