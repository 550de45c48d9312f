/**
 * SGLang's own clients in front of a real prefill/decode pair (tcp), with payloads written from their
 * source (test/helpers/sglang-clients.ts):
 * - mini_lb's requests sent straight to the nodes, with `bootstrap_port` null (mini_lb without
 *   --prefill-bootstrap-ports: both nodes share one --disaggregation-bootstrap-port) and with the port
 *   given; /generate (single, batch, streamed, with prompt logprobs merged from the prefill's first
 *   chunk as mini_lb does; the same through pd-node's router), /v1/completions and
 *   /v1/chat/completions as mini_lb forwards them.
 * - bench_serving's payloads for backends sglang, sglang-oai, sglang-oai-chat, vllm, vllm-chat
 *   through pd-node's router, streamed and whole, and its /get_server_info read.
 * - `max_new_tokens: 0` through mini_lb and the router.
 * Every answer is checked against a colocated node's for the same request (greedy: deterministic).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/index.js';
import { getJson, stopAll, waitForFreePool, type NodeProcess } from '../helpers/processes.js';
import { benchAcceptLength, benchPath, benchPayload, benchText, BENCH_BACKENDS, miniLbForward } from '../helpers/sglang-clients.js';
import { refusedPort } from '../router/fake-pd-node.js';
import { metricValue, sseChunks } from '../server/support.js';
import { startCluster, type Cluster } from './cluster.js';

const PROMPT = 'The river ran past the old mill, and the miller counted every sack of grain twice. ';
const GREEDY = { temperature: 0, max_new_tokens: 10, ignore_eos: true };

async function post(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
  return { status: res.status, text: await res.text() };
}

describe('SGLang clients in front of a prefill/decode pair', () => {
  let cluster: Cluster;
  let prefill: NodeProcess;
  let decode: NodeProcess;
  let colocated: NodeHandle;
  let bootstrapPort: number;

  before(async () => {
    cluster = await startCluster('tcp');
    // One bootstrap port for both roles, as in SGLang's launch commands: a null port means it.
    bootstrapPort = await refusedPort();
    const shared = ['--disaggregation-bootstrap-port', String(bootstrapPort)];
    [prefill, decode, colocated] = await Promise.all([
      cluster.addNode('prefill', shared),
      cluster.addNode('decode', shared),
      startNode({ port: 0, logLevel: 'silent', modelPath: cluster.modelPath }),
    ]);
    await cluster.waitForNodes([prefill, decode]);
  });
  after(async () => {
    await colocated?.close();
    await stopAll();
  });

  const single = async (path: string, body: Record<string, unknown>): Promise<any> => {
    const { status, text } = await post(`${colocated.url}${path}`, body);
    assert.equal(status, 200, text);
    return JSON.parse(text);
  };

  for (const port of ['null', 'given'] as const) {
    test(`mini_lb /generate with bootstrap_port ${port}: whole, streamed and batched answers equal one node's`, async () => {
      const p = port === 'null' ? null : bootstrapPort;
      const want = await single('/generate', { text: PROMPT, sampling_params: GREEDY });
      const whole = await miniLbForward(prefill.url, decode.url, '/generate', { text: PROMPT, sampling_params: GREEDY }, p);
      assert.equal(whole.status, 200, whole.body);
      assert.equal(JSON.parse(whole.body).text, want.text);

      const streamed = await miniLbForward(prefill.url, decode.url, '/generate', { text: PROMPT, sampling_params: GREEDY, stream: true }, p);
      assert.equal(streamed.status, 200, streamed.body);
      assert.equal(sseChunks(streamed.body).at(-1).text, want.text);

      const batch = await miniLbForward(prefill.url, decode.url, '/generate', { text: [PROMPT, 'Once upon a time'], sampling_params: GREEDY }, p);
      assert.equal(batch.status, 200, batch.body);
      const wantBatch = await single('/generate', { text: [PROMPT, 'Once upon a time'], sampling_params: GREEDY });
      assert.deepEqual((JSON.parse(batch.body) as any[]).map((o) => o.text), wantBatch.map((o: any) => o.text));
    });
  }

  test("mini_lb with return_logprob: prompt logprobs from the prefill's first chunk, equal to one node's", async () => {
    const request = { text: PROMPT, sampling_params: GREEDY, return_logprob: true, logprob_start_len: 0 };
    const want = await single('/generate', request);
    const whole = await miniLbForward(prefill.url, decode.url, '/generate', request, null);
    assert.equal(whole.status, 200, whole.body);
    const meta = JSON.parse(whole.body).meta_info;
    assert.deepEqual(meta.input_token_logprobs, want.meta_info.input_token_logprobs);
    assert.deepEqual(meta.output_token_logprobs, want.meta_info.output_token_logprobs);

    const streamed = await miniLbForward(prefill.url, decode.url, '/generate', { ...request, stream: true }, null);
    assert.equal(streamed.status, 200, streamed.body);
    const chunks = sseChunks(streamed.body);
    assert.ok(want.meta_info.input_token_logprobs.length > 10);
    for (const chunk of chunks) assert.deepEqual(chunk.meta_info.input_token_logprobs, want.meta_info.input_token_logprobs, 'every merged chunk has the whole prompt');
    assert.equal(chunks.at(-1).text, want.text);

    // pd-node's router merges the same way (from the prefill's answer, into every decode chunk).
    const viaRouter = await post(`${cluster.router.url}/generate`, { ...request, stream: true });
    assert.equal(viaRouter.status, 200, viaRouter.text);
    const routed = sseChunks(viaRouter.text);
    assert.deepEqual(routed[0].meta_info.input_token_logprobs, want.meta_info.input_token_logprobs, 'first chunk');
    assert.deepEqual(routed.at(-1).meta_info.input_token_logprobs, want.meta_info.input_token_logprobs, 'last chunk');
    assert.deepEqual(routed.at(-1).meta_info.output_token_logprobs, want.meta_info.output_token_logprobs);
  });

  test('mini_lb /v1/completions and /v1/chat/completions, whole and streamed, equal one node\'s', async () => {
    const cases: [string, Record<string, unknown>, (json: any) => string, (chunk: any) => string][] = [
      ['/v1/completions', { prompt: PROMPT, max_tokens: 10, temperature: 0 }, (j) => j.choices[0].text, (c) => c.choices[0]?.text ?? ''],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: PROMPT }], max_tokens: 10, temperature: 0 }, (j) => j.choices[0].message.content, (c) => c.choices[0]?.delta?.content ?? ''],
    ];
    for (const [path, request, whole, delta] of cases) {
      const want = whole(await single(path, request));
      assert.ok(want.length > 0);
      const answer = await miniLbForward(prefill.url, decode.url, path, request, null);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(whole(JSON.parse(answer.body)), want, path);
      const streamed = await miniLbForward(prefill.url, decode.url, path, { ...request, stream: true }, bootstrapPort);
      assert.equal(streamed.status, 200, streamed.body);
      assert.equal(sseChunks(streamed.body).map(delta).join(''), want, `${path} streamed`);
    }
  });

  test('max_new_tokens 0 through mini_lb and through the router: the prompt only, its logprobs from prefill', async () => {
    const request = { text: PROMPT, sampling_params: { max_new_tokens: 0 }, return_logprob: true, logprob_start_len: 0 };
    const want = await single('/generate', request);
    assert.equal(want.meta_info.completion_tokens, 0);
    const viaLb = await miniLbForward(prefill.url, decode.url, '/generate', request, null);
    assert.equal(viaLb.status, 200, viaLb.body);
    const viaRouter = await post(`${cluster.router.url}/generate`, request);
    assert.equal(viaRouter.status, 200, viaRouter.text);
    for (const answer of [JSON.parse(viaLb.body), JSON.parse(viaRouter.text)]) {
      assert.equal(answer.text, '');
      assert.deepEqual(answer.output_ids, []);
      assert.deepEqual(answer.meta_info.finish_reason, { type: 'length', length: 0 });
      assert.deepEqual(answer.meta_info.input_token_logprobs, want.meta_info.input_token_logprobs);
    }
    const streamed = await post(`${cluster.router.url}/generate`, { ...request, stream: true });
    assert.equal(streamed.status, 200, streamed.text);
    const chunks = sseChunks(streamed.text);
    assert.equal(chunks.length, 1, 'one chunk: the finish');
    assert.deepEqual(chunks[0].meta_info.input_token_logprobs, want.meta_info.input_token_logprobs);
    const oai = await post(`${cluster.router.url}/v1/completions`, { prompt: PROMPT, max_tokens: 0, best_of: 1 });
    assert.equal(oai.status, 200, oai.text);
    assert.equal(JSON.parse(oai.text).usage.completion_tokens, 0);
  });

  test("bench_serving's payloads for every backend through the router: all succeed, text equals one node's", async () => {
    const model = colocated.client.model.servedModelName;
    for (const backend of BENCH_BACKENDS) {
      for (const stream of [true, false]) {
        const payload = benchPayload(backend, model, PROMPT, 10, stream);
        const viaRouter = await post(`${cluster.router.url}${benchPath(backend)}`, payload);
        assert.equal(viaRouter.status, 200, `${backend} stream=${stream}: ${viaRouter.text}`);
        const local = await post(`${colocated.url}${benchPath(backend)}`, payload);
        const want = benchText(backend, local.text, stream);
        assert.ok(want.length > 0);
        assert.equal(benchText(backend, viaRouter.text, stream), want, `${backend} stream=${stream}`);
      }
    }
  });

  test("the router takes SGLang's null bootstrap fields as not given and sets its own", async () => {
    const want = await single('/generate', { text: PROMPT, sampling_params: GREEDY });
    const rooms = async (): Promise<number> => metricValue(await (await fetch(`${decode.url}/metrics`)).text(), 'pd_node_kv_transfer_rooms_total');
    const before = await rooms();
    const answer = await post(`${cluster.router.url}/generate`, { text: PROMPT, sampling_params: GREEDY, bootstrap_host: null, bootstrap_port: null, bootstrap_room: null });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(JSON.parse(answer.text).text, want.text);
    assert.equal(await rooms(), before + 1, 'served through a PD room, not by the decode node alone');
  });

  test("bench_serving's /get_server_info read through the router, and SGLang's router info routes", async () => {
    for (const path of ['/get_server_info', '/server_info']) {
      const info = await getJson(`${cluster.router.url}${path}`);
      assert.equal(benchAcceptLength(info), null);
      assert.equal(info.decode.length, 1);
      assert.equal(info.prefill.length, 1);
      assert.equal(info.decode[0].disaggregation_mode, 'decode');
      assert.ok(info.decode[0].internal_states[0].last_gen_throughput > 0, 'decode produced tokens');
      assert.deepEqual(info.internal_states, info.decode[0].internal_states);
    }
    const model = await getJson(`${cluster.router.url}/model_info`);
    assert.equal(model.is_generation, true);
    assert.ok('tokenizer_path' in model);
    const loads = await getJson(`${cluster.router.url}/get_loads`);
    assert.deepEqual(loads, { prefill: [{ worker: prefill.url, load: 0 }], decode: [{ worker: decode.url, load: 0 }] });
  });

  test('both pools are whole again', async () => {
    await waitForFreePool(prefill.url);
    await waitForFreePool(decode.url);
  });
});
