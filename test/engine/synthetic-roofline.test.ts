/**
 * The synthetic engine's model shapes and roofline on numbers worked out by hand: parameter counts
 * against the published ones, KV bytes per token, step times of decode and prefill (memory- and
 * compute-bound), routed-expert weight reads, GPU groups.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gpuGroup, parseGpu, type GpuSpec } from '../../src/engine/synthetic/gpus.js';
import { activeParams, findModelShape, MODEL_SHAPE_NAMES, shapeLayout, type ModelShape } from '../../src/engine/synthetic/model-shapes.js';
import { Roofline, type CostedItem } from '../../src/engine/synthetic/roofline.js';
import { bytesPerToken } from '../../src/kv/layout.js';

function shape(name: string): ModelShape {
  const s = findModelShape(name);
  assert.ok(s, name);
  return s;
}

function item(startPos: number, tokens: number, logits: CostedItem['logits'] = 'last'): CostedItem {
  return { startPos, tokens: { length: tokens }, logits };
}

const near = (actual: number, expected: number, rel = 1e-9): void => assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${actual} vs ${expected}`);

const H100 = parseGpu('h100')!;

describe('model shapes', () => {
  test('KV bytes per token are the real models\' (bf16)', () => {
    const expected: Record<string, number> = {
      'deepseek-v3': 61 * 576 * 2, // 70,272: one MLA latent per layer
      'llama-3.1-8b': 32 * 8 * 128 * 2 * 2, // 131,072
      'llama-3.1-70b': 80 * 8 * 128 * 2 * 2,
      'qwen2.5-7b': 28 * 4 * 128 * 2 * 2,
      'mixtral-8x7b': 32 * 8 * 128 * 2 * 2,
    };
    assert.deepEqual([...MODEL_SHAPE_NAMES].sort(), Object.keys(expected).sort());
    for (const [name, bytes] of Object.entries(expected)) assert.equal(bytesPerToken(shapeLayout(shape(name), 16)), bytes, name);
    assert.equal(bytesPerToken(shapeLayout(shape('deepseek-v3'), 1)), 70272);
    assert.equal(shapeLayout(shape('deepseek-v3'), 64).entriesPerToken, 576);
    assert.equal(shapeLayout(shape('llama-3.1-8b'), 64).dtype, 'bfloat16');
  });

  test('parameter counts derived from the dimensions match the published ones (norms aside)', () => {
    const published: Record<string, [number, number]> = {
      'llama-3.1-8b': [8.03e9, 8.03e9],
      'llama-3.1-70b': [70.6e9, 70.6e9],
      'qwen2.5-7b': [7.61e9, 7.61e9],
      'mixtral-8x7b': [46.7e9, 12.9e9],
      'deepseek-v3': [671e9, 37e9],
    };
    for (const [name, [total, active]] of Object.entries(published)) {
      const s = shape(name);
      near(s.params.total, total, 2e-3);
      // Active parameters as counted here leave out the input embedding (a lookup), not lm_head.
      const embedding = s.name === 'deepseek-v3' ? 0 : s.vocabSize * s.hiddenSize;
      near(activeParams(s) + embedding, active, 3e-3);
    }
    assert.equal(findModelShape('gpt-5'), null);
  });
});

describe('roofline', () => {
  const llama8b = shape('llama-3.1-8b');
  const dense = 7_504_658_432; // 32 x (q, k, v, o, gate, up, down) + lm_head, bf16
  const lmHead = 128_256 * 4096;
  const roofline = new Roofline(llama8b, H100);

  test('decode of one token is memory-bound: weights plus the KV read and written', () => {
    const c = roofline.cost([item(999, 1)]);
    // 1000 positions attended, each costing 2 (q.k and p.v) x 2 FLOPs x 32 heads x 128 per layer.
    near(c.flops, 2 * dense + 2 * 32 * 32 * (128 + 128) * 1000);
    near(c.bytes, 2 * dense + 131_072 * (999 + 2));
    near(c.seconds, c.bytes / 3.35e12);
    assert.ok(c.seconds > 0.0045 && c.seconds < 0.0046);
  });

  test('a 2048-token prefill is compute-bound; lm_head runs only for rows that need logits', () => {
    const c = roofline.cost([item(0, 2048, 'last')]);
    const attention = 2 * 32 * 32 * 256 * ((2048 * 2049) / 2);
    near(c.flops, 2 * (dense - lmHead) * 2048 + 2 * lmHead + attention);
    near(c.seconds, c.flops / 989e12);
    assert.ok(c.seconds > 0.0299 && c.seconds < 0.0301, `${c.seconds}`);
    const withLogits = roofline.cost([item(0, 2048, 'all')]);
    near(withLogits.flops - c.flops, 2 * lmHead * 2047);
    const none = roofline.cost([item(0, 2048, 'none')]);
    near(c.flops - none.flops, 2 * lmHead);
  });

  test('a batch costs its items together: weights are read once per step', () => {
    const one = roofline.cost([item(100, 1)]);
    const two = roofline.cost([item(100, 1), item(100, 1)]);
    near(two.bytes - one.bytes, 131_072 * 102);
    near(two.flops, 2 * one.flops);
    assert.deepEqual(roofline.cost([]), { flops: 0, bytes: 0, seconds: 0 });
  });

  test('routed experts: one token reads its experts only, a large batch reads them all', () => {
    const mixtral = shape('mixtral-8x7b');
    const r = new Roofline(mixtral, H100);
    const kv = (tokens: number) => 131_072 * 2 * tokens;
    // One token: 1 - (6/8)^1 = 1/4 of 8 experts = the 2 it is routed to, so the weights read are its active ones.
    near(r.cost([item(0, 1)]).bytes - kv(1), 2 * activeParams(mixtral));
    const embedding = mixtral.vocabSize * mixtral.hiddenSize;
    near(r.cost([item(0, 512, 'none')]).bytes - kv(512), 2 * (mixtral.params.total - embedding), 1e-9);
    const deepseek = shape('deepseek-v3');
    // FP8 weights: one byte per parameter.
    near(new Roofline(deepseek, H100).cost([item(0, 1, 'none')]).bytes - 70_272 * 2, activeParams(deepseek));
  });

  test('a GPU group scales FLOP/s and bandwidth by its count', () => {
    const eight = parseGpu('8xh100')!;
    assert.equal(eight.count, 8);
    near(eight.peakFlops, 8 * 989e12);
    near(eight.hbmBandwidth, 8 * 3.35e12);
    near(new Roofline(llama8b, eight).cost([item(999, 1)]).seconds * 8, roofline.cost([item(999, 1)]).seconds);
    for (const bad of ['h1000', '0xh100', '65xh100', 'H100', 'x', '8x', '']) assert.equal(parseGpu(bad), null, bad);
    assert.equal(parseGpu('a100')!.peakFlops, 312e12);
  });

  test('--tp N models N GPUs: a bare name is multiplied, COUNTxNAME must agree', () => {
    const four = gpuGroup('h100', 4) as GpuSpec;
    assert.equal(four.count, 4);
    near(four.peakFlops, 4 * 989e12);
    assert.equal((gpuGroup('4xh100', 4) as GpuSpec).count, 4);
    assert.equal((gpuGroup('8xh100', 1) as GpuSpec).count, 8, '--tp 1 (the default) leaves COUNTxNAME alone');
    assert.match(gpuGroup('2xh100', 4) as string, /--tp 4 and --gpu 2xh100 disagree/);
    assert.equal(gpuGroup('h1000', 2), null);
  });
});
