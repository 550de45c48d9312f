/**
 * PD on real processes with the synthetic engine at a production KV size (Llama-3.1-8B shape:
 * 131,072 B per token) over shm: output through the router equals a colocated synthetic node's,
 * the decode node verified every arrived byte (its counters), a prefill/decode disagreement on the
 * prompt fails that request with a message naming the first wrong position while the next request
 * succeeds, nodes of different shapes refuse each other, and the pools are whole afterwards.
 * Pools are small (512 tokens = 64 MiB) and prompts short, so this stays quick.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/index.js';
import { getJson, killProcess, postJson, startProcess, stopAll, waitForFreePool, type NodeProcess } from '../helpers/processes.js';
import { metricValue } from '../server/support.js';
import { startCluster, type Cluster } from './cluster.js';

const SYNTHETIC = ['--engine', 'synthetic', '--model-shape', 'llama-3.1-8b', '--max-total-tokens', '512'];
const KV_BYTES_PER_TOKEN = 131_072;
const SAMPLING = { temperature: 0, max_new_tokens: 16 };
const PROMPTS = [
  'Let me tell you a lonnng story ',
  'The river ran past the old mill, and the miller counted every sack of grain twice. '.repeat(2),
  'Chunked prefill splits this prompt into several forward steps on the prefill node. '.repeat(5),
];

describe('PD with the synthetic engine (llama-3.1-8b shape, shm)', () => {
  let cluster: Cluster;
  let prefill: NodeProcess;
  let decode: NodeProcess;
  let colocated: NodeHandle;
  let pdPromptTokens = 0;

  before(async () => {
    cluster = await startCluster('shm');
    [prefill, decode, colocated] = await Promise.all([
      // 32-token chunks: longer prompts are computed and transferred chunk by chunk.
      cluster.addNode('prefill', [...SYNTHETIC, '--chunked-prefill-size', '32']),
      cluster.addNode('decode', SYNTHETIC),
      startNode({ port: 0, logLevel: 'silent', modelPath: cluster.modelPath, engine: { name: 'synthetic', config: { modelShape: 'llama-3.1-8b' } }, maxTotalTokens: 512 }),
    ]);
    await cluster.waitForNodes([prefill, decode]);
  });
  after(async () => {
    await colocated?.close();
    await stopAll();
  });

  const decodeMetrics = async () => (await fetch(`${decode.url}/metrics`)).text();

  test('the nodes say which engine and shape they run', async () => {
    const info = await getJson(`${decode.url}/get_model_info`);
    assert.equal(info.engine, 'synthetic');
    assert.deepEqual(info.engine_config, { model_shape: 'llama-3.1-8b', gpu: 'h100' });
    assert.deepEqual(info.kv_layout, { num_layers: 32, entries_per_token: 2048, dtype: 'bfloat16', page_size: 16 });
    const server = await getJson(`${prefill.url}/get_server_info`);
    assert.equal(server.engine, 'synthetic');
    assert.deepEqual(server.engine_config, { model_shape: 'llama-3.1-8b', gpu: 'h100' });
    assert.equal(server.scheduler_stats.max_total_tokens, 512);
  });

  test('greedy and seeded output through the router equal colocated, every arrived byte verified', async () => {
    let longest = 0;
    for (const sampling of [SAMPLING, { temperature: 0.8, seed: 7, max_new_tokens: 12 }]) {
      for (const text of PROMPTS) {
        const body = { text, sampling_params: { ...sampling, ignore_eos: true } };
        const [pd, local] = await Promise.all([postJson(`${cluster.router.url}/generate`, body), postJson(`${colocated.url}/generate`, body)]);
        assert.equal(pd.status, 200, JSON.stringify(pd.body));
        assert.deepEqual(pd.body.output_ids, local.body.output_ids);
        assert.equal(pd.body.text, local.body.text);
        assert.equal(pd.body.output_ids.length, sampling.max_new_tokens);
        pdPromptTokens += pd.body.meta_info.prompt_tokens;
        longest = Math.max(longest, pd.body.meta_info.prompt_tokens);
      }
    }
    assert.ok(longest > 2 * 32, `the longest prompt (${longest} tokens) spans several 32-token chunks`);
    const metrics = await decodeMetrics();
    assert.equal(metricValue(metrics, 'pd_node_kv_verified_bytes_total'), pdPromptTokens * KV_BYTES_PER_TOKEN);
    assert.equal(metricValue(metrics, 'pd_node_kv_verify_failures_total'), 0);
    assert.ok(metricValue(metrics, 'pd_node_kv_verify_seconds_total') > 0);
    const moved = metricValue(metrics, 'pd_node_kv_transfer_bytes_total');
    assert.ok(moved >= pdPromptTokens * KV_BYTES_PER_TOKEN && moved % (16 * KV_BYTES_PER_TOKEN) === 0, `whole pages moved, covering every prompt: ${moved} B`);
  });

  test('KV that does not match the prompt fails that request naming the position; the next one succeeds', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => 3 + ((i * 37) % 500));
    const wrong = [...ids.slice(0, -1), ids.at(-1)! + 1];
    const body = (input_ids: number[]) => ({ input_ids, sampling_params: SAMPLING, bootstrap_host: '127.0.0.1', bootstrap_port: prefill.bootstrapPort, bootstrap_room: 4242 });
    const [p, d] = await Promise.all([postJson(`${prefill.url}/generate`, body(ids)), postJson(`${decode.url}/generate`, body(wrong))]);
    assert.equal(p.status, 200, 'prefill computed and sent its KV');
    assert.equal(d.status, 502, JSON.stringify(d.body));
    assert.match(d.body.error.message, /^KV cache verification failed: KV cache of position 39, layer 0 \(page \d+\) is wrong: byte \d+ of its 4096 is 0x[0-9a-f]{2}, expected 0x[0-9a-f]{2}; the KV the prefill node sent does not match this prompt$/);
    const metrics = await decodeMetrics();
    assert.equal(metricValue(metrics, 'pd_node_kv_verify_failures_total'), 1);
    assert.equal(metricValue(metrics, 'pd_node_kv_verified_bytes_total'), pdPromptTokens * KV_BYTES_PER_TOKEN, 'bytes of failed rooms are not counted');
    await waitForFreePool(decode.url);
    const next = { text: PROMPTS[1], sampling_params: SAMPLING };
    const [pd, local] = await Promise.all([postJson(`${cluster.router.url}/generate`, next), postJson(`${colocated.url}/generate`, next)]);
    assert.equal(pd.status, 200, JSON.stringify(pd.body));
    assert.deepEqual(pd.body.output_ids, local.body.output_ids);
  });

  test('a decode node of another shape is refused naming both shapes', async () => {
    const other = await startProcess(['--role', 'decode', '--port', '0', '--engine', 'synthetic', '--model-shape', 'deepseek-v3', '--max-total-tokens', '256', '--disaggregation-transfer-backend', 'shm', '--log-level', 'info']);
    const body = { text: 'hello', sampling_params: SAMPLING, bootstrap_host: '127.0.0.1', bootstrap_port: prefill.bootstrapPort, bootstrap_room: 77 };
    const [p, d] = await Promise.all([postJson(`${prefill.url}/generate`, body), postJson(`${other.url}/generate`, body)]);
    assert.equal(d.status, 502, JSON.stringify(d.body));
    assert.match(d.body.error.message, /model mismatch: decode node serves synthetic\/deepseek-v3 \(fingerprint [0-9a-f]+\), prefill node serves synthetic\/llama-3\.1-8b/);
    // Prefill's room was never claimed (the handshake refused it): its request fails too, uncomputed.
    assert.equal(p.status, 502, JSON.stringify(p.body));
    await waitForFreePool(other.url);
    await killProcess(other, 'SIGTERM');
  });

  test('both pools are whole again', async () => {
    await waitForFreePool(prefill.url);
    await waitForFreePool(decode.url);
  });
});
