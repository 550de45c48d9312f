/**
 * `--tp N` in the reference engine: N rank threads, each with 1/N of the heads and MLP columns, give
 * logits and KV bytes identical, byte for byte, to one thread, over prefill chunks and decode steps
 * batched together, with the pool in kernel memory (attention in place) and in a plain
 * SharedArrayBuffer (pages copied), including uneven splits (3 KV heads over 2 ranks, as SmolLM2's).
 * The native kernel's rank threads give the same bytes as the WASM kernel at --tp 1.
 * A `tp` above the KV heads is refused naming --tp.
 * Through PD (real processes, tcp): prefill and decode nodes both at `--tp 2` produce the greedy
 * tokens and the logprobs of a colocated node at `--tp 1`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ForwardItem } from '../../src/engine/engine.js';
import { ReferenceEngine } from '../../src/engine/reference/llama-engine.js';
import { createWasmKvPool } from '../../src/engine/reference/kernels/wasm-arena.js';
import { gqaLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import type { LlamaConfig, ModelWeights } from '../../src/model/types.js';
import { bytes, concat, kvBytes, nativeSkip, NUM_PAGES, PAGE_SIZE, tinyModel } from './engine-harness.js';
import { BALANCED_ATTENTION_MIN_ROWS } from '../../src/engine/reference/shard.js';
import { item, prng, randomTokens, randomWeights, tinyConfig } from './random-model.js';
import { startNode, type NodeHandle } from '../../src/index.js';
import { postJson, stopAll, type NodeProcess } from '../helpers/processes.js';
import { startCluster, type Cluster } from '../pd/cluster.js';

/** Logits of every step and the KV bytes of every page, for a fixed workload. */
function snapshot(model: { config: LlamaConfig; weights: ModelWeights }, tp: number, wasmPool: boolean, kernel: 'native' | 'wasm' = 'wasm'): { logits: Buffer; kv: Buffer } {
  const { config, weights } = model;
  const layout = gqaLayout(config.numLayers, config.numKvHeads, config.headDim, 'float32', PAGE_SIZE);
  const pool = wasmPool ? createWasmKvPool(layout, NUM_PAGES) : new KvPool(layout, NUM_PAGES);
  const engine = new ReferenceEngine(config, weights, pool, { kernel, tp });
  try {
    assert.equal(engine.tp, tp);
    assert.equal(engine.kernel, kernel);
    assert.equal(engine.attentionInPlace, wasmPool);
    const rand = prng(21);
    const a = randomTokens(rand, 19, config.vocabSize);
    const b = randomTokens(rand, 7, config.vocabSize);
    const aPages = Int32Array.from([9, 2, 30, 17, 44, 5, 60, 11]);
    const bPages = Int32Array.from([40, 3, 22, 51]);
    const steps: ForwardItem[][] = [
      [item(a.subarray(0, 12), 0, aPages, 'all'), item(b, 0, bPages, 'last')],
      [item(a.subarray(12), 12, aPages, 'all'), item(randomTokens(rand, 1, config.vocabSize), 7, bPages)],
    ];
    for (let s = 0; s < 6; s++) steps.push([item(randomTokens(rand, 1, config.vocabSize), 8 + s, bPages), item(randomTokens(rand, 1, config.vocabSize), 19 + s, aPages, 'none')]);
    // both ways a step splits attention over the ranks (shard.ts): evenly (the 19-row first step), by KV head (the rest)
    const rows = steps.map((batch) => batch.reduce((n, it) => n + it.tokens.length, 0));
    assert.ok(rows[0] >= BALANCED_ATTENTION_MIN_ROWS && rows.slice(1).every((n) => n < BALANCED_ATTENTION_MIN_ROWS), `rows per step ${rows}`);
    const logits = steps.flatMap((batch) => engine.forward(batch).map((l) => l.slice())); // each valid until the next step
    const pages = Int32Array.from([...aPages, ...bPages]);
    return { logits: bytes(concat(logits)), kv: kvBytes(pool, pages) };
  } finally {
    engine.close();
  }
}

const wideModel = (() => {
  const config = tinyConfig({ numHeads: 8, numKvHeads: 4 });
  return { config, weights: randomWeights(config, 4) };
})();
/** SmolLM2's head layout (3 groups of 3): --tp 2 splits it unevenly, 2 groups + 1. */
const oddModel = (() => {
  const config = tinyConfig({ numHeads: 9, numKvHeads: 3, headDim: 8, hiddenSize: 72, intermediateSize: 164 });
  return { config, weights: randomWeights(config, 5) };
})();

for (const wasmPool of [true, false]) {
  const pool = wasmPool ? 'wasm pool' : 'plain pool';
  test(`--tp 2 gives logits and KV bytes identical to --tp 1 (tiny model, ${pool})`, () => {
    const one = snapshot(tinyModel, 1, wasmPool);
    assert.ok(one.kv.some((x) => x !== 0), 'the workload wrote K/V');
    const two = snapshot(tinyModel, 2, wasmPool);
    assert.ok(one.logits.equals(two.logits), 'logits differ between --tp 1 and --tp 2');
    assert.ok(one.kv.equals(two.kv), 'KV bytes differ between --tp 1 and --tp 2');
  });

  test(`--tp 2, 3 and 4 give results identical to --tp 1 (8 heads, 4 KV heads, ${pool})`, () => {
    const one = snapshot(wideModel, 1, wasmPool);
    for (const tp of [2, 3, 4]) {
      const other = snapshot(wideModel, tp, wasmPool);
      assert.ok(one.logits.equals(other.logits), `logits differ between --tp 1 and --tp ${tp}`);
      assert.ok(one.kv.equals(other.kv), `KV bytes differ between --tp 1 and --tp ${tp}`);
    }
  });
}

test('--tp 2 over 3 KV heads (uneven: 2 groups and 1) gives results identical to --tp 1', () => {
  const one = snapshot(oddModel, 1, true);
  const two = snapshot(oddModel, 2, true);
  assert.ok(one.logits.equals(two.logits), 'logits differ between --tp 1 and --tp 2');
  assert.ok(one.kv.equals(two.kv), 'KV bytes differ between --tp 1 and --tp 2');
});

test('--tp 2 with the native kernel gives results identical to --tp 1 with the WASM kernel (3 KV heads, both pools)', { skip: nativeSkip }, () => {
  for (const wasmPool of [true, false]) {
    const one = snapshot(oddModel, 1, wasmPool);
    const two = snapshot(oddModel, 2, wasmPool, 'native');
    assert.ok(one.logits.equals(two.logits), 'logits differ between --tp 1 (wasm) and --tp 2 (native)');
    assert.ok(one.kv.equals(two.kv), 'KV bytes differ between --tp 1 (wasm) and --tp 2 (native)');
  }
});

test('a --tp above the KV heads, or with the JS kernel, is refused naming --tp', () => {
  const { config, weights } = tinyModel;
  const pool = createWasmKvPool(gqaLayout(config.numLayers, config.numKvHeads, config.headDim, 'float32', PAGE_SIZE), 4);
  assert.throws(() => new ReferenceEngine(config, weights, pool, { kernel: 'wasm', tp: 4 }), /--tp 4 exceeds the model's 2 KV heads/);
  assert.throws(() => new ReferenceEngine(config, weights, pool, { kernel: 'js', tp: 2 }), /--tp 2 needs the WASM kernel/);
});

describe('PD with --tp 2 on both nodes', () => {
  let cluster: Cluster;
  let prefill: NodeProcess;
  let decode: NodeProcess;
  let colocated: NodeHandle;

  before(async () => {
    cluster = await startCluster('tcp');
    [prefill, decode, colocated] = await Promise.all([
      cluster.addNode('prefill', ['--tp', '2', '--chunked-prefill-size', '32']),
      cluster.addNode('decode', ['--tp-size', '2']),
      startNode({ port: 0, logLevel: 'silent', modelPath: cluster.modelPath }),
    ]);
    await cluster.waitForNodes([prefill, decode]);
  });
  after(async () => {
    await colocated?.close();
    await stopAll();
  });

  test('greedy tokens and logprobs equal a colocated --tp 1 node', async () => {
    for (const node of [prefill, decode]) assert.ok(node.logs.some((l) => l.includes('"tp":2')), 'the node runs its engine at --tp 2');
    const text = 'Tensor parallel ranks split the heads and the MLP columns of every layer. '.repeat(2);
    const body = { text, sampling_params: { temperature: 0, max_new_tokens: 16, ignore_eos: true }, return_logprob: true, logprob_start_len: 0 };
    const [pd, local] = await Promise.all([postJson(`${cluster.router.url}/generate`, body), postJson(`${colocated.url}/generate`, body)]);
    assert.equal(pd.status, 200, JSON.stringify(pd.body));
    assert.ok(local.body.meta_info.prompt_tokens > 32, 'the prompt spans several prefill chunks');
    assert.deepEqual(pd.body.output_ids, local.body.output_ids);
    assert.deepEqual(pd.body.meta_info.input_token_logprobs, local.body.meta_info.input_token_logprobs);
    assert.deepEqual(pd.body.meta_info.output_token_logprobs, local.body.meta_info.output_token_logprobs);
  });
});
