/**
 * (b) Batch and chunk invariance: a sequence's logits and KV bytes are identical, byte for byte,
 * whether its prompt is prefilled alone in one step, in chunks of 1, 3 or 7 tokens, or in chunks
 * batched with other sequences' prefill chunks and decode tokens (at varying places in the batch and
 * on other, scattered page ids), followed by decode steps. Checked for every kernel/pool set-up.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ForwardItem } from '../../src/engine/engine.js';
import type { ReferenceEngine } from '../../src/engine/reference/llama-engine.js';
import { bytes, concat, kvBytes, makeEngine, SETUPS, tinyModel } from './engine-harness.js';
import { item, prng, randomTokens } from './random-model.js';

const vocab = tinyModel.config.vocabSize;
const rand = prng(11);
const PROMPT = randomTokens(rand, 23, vocab);
const DECODED = randomTokens(rand, 3, vocab);
const SEQUENCE = Int32Array.from([...PROMPT, ...DECODED]); // 26 positions: 7 pages of 4
const ALONE_PAGES = Int32Array.from([17, 3, 40, 9, 28, 55, 21]);
const BATCHED_PAGES = Int32Array.from([50, 8, 33, 2, 44, 13, 60]);

/** Step sizes: the prompt in chunks of `chunk`, then one decode token per step. */
function steps(chunk: number): number[] {
  const sizes: number[] = [];
  for (let s = 0; s < PROMPT.length; s += chunk) sizes.push(Math.min(chunk, PROMPT.length - s));
  return [...sizes, ...DECODED.map(() => 1)];
}

interface Run {
  logits: Float32Array;
  kv: Buffer;
}

/** Logits of SEQUENCE run by `sizes`; `others(step)` adds the other sequences' items of that step. */
function run(engine: ReferenceEngine, pages: Int32Array, sizes: number[], others: (step: number) => ForwardItem[] = () => []): Float32Array {
  const logits: Float32Array[] = [];
  let pos = 0;
  sizes.forEach((n, step) => {
    const batch = others(step);
    const at = step % (batch.length + 1);
    batch.splice(at, 0, item(SEQUENCE.subarray(pos, pos + n), pos, pages, 'all'));
    logits.push(engine.forward(batch)[at].slice()); // a copy: the output is valid until the next step
    pos += n;
  });
  return concat(logits);
}

/** Other traffic: Q prefilled in chunks of 5 alongside, R1 and R2 (prefilled beforehand) decoding. */
function withOthers(engine: ReferenceEngine): (step: number) => ForwardItem[] {
  const r = prng(12);
  const q = randomTokens(r, 9, vocab);
  const r1 = randomTokens(r, 6, vocab);
  const r2 = randomTokens(r, 10, vocab);
  const qPages = Int32Array.from([1, 30, 12]);
  const r1Pages = Int32Array.from([5, 26, 38, 61, 19, 42, 0, 10]); // room for 6 + 26 steps
  const r2Pages = Int32Array.from([14, 47, 6, 59, 35, 23, 52, 31, 4, 27]); // 10 + 26 steps
  engine.forward([item(r1, 0, r1Pages), item(r2, 0, r2Pages, 'none')]);
  return (step) => {
    const batch = [item(randomTokens(r, 1, vocab), r1.length + step, r1Pages), item(randomTokens(r, 1, vocab), r2.length + step, r2Pages, 'all')];
    if (step * 5 < q.length) batch.push(item(q.subarray(step * 5, step * 5 + 5), step * 5, qPages, 'none'));
    return batch;
  };
}

for (const setup of SETUPS) {
  test(`logits and KV bytes are batch- and chunk-invariant (${setup.kernel} kernel, ${setup.wasmPool ? 'wasm' : 'plain'} pool)`, () => {
    const snapshot = (pages: Int32Array, sizes: number[], batched: boolean): Run => {
      const { engine, pool } = makeEngine(setup);
      const logits = run(engine, pages, sizes, batched ? withOthers(engine) : undefined);
      return { logits, kv: kvBytes(pool, pages) };
    };
    const alone = snapshot(ALONE_PAGES, steps(PROMPT.length), false);
    assert.equal(alone.logits.length, SEQUENCE.length * vocab);
    assert.ok(alone.kv.some((b) => b !== 0), 'the sequence wrote its K/V into its pages');
    const variants = {
      'chunks of 1': snapshot(ALONE_PAGES, steps(1), false),
      'chunks of 3': snapshot(ALONE_PAGES, steps(3), false),
      'chunks of 7': snapshot(ALONE_PAGES, steps(7), false),
      'chunks of 7 in a batch, other pages': snapshot(BATCHED_PAGES, steps(7), true),
      'whole prompt in a batch, other pages': snapshot(BATCHED_PAGES, steps(PROMPT.length), true),
      'chunks of 1 in a batch, other pages': snapshot(BATCHED_PAGES, steps(1), true),
    };
    for (const [name, v] of Object.entries(variants)) {
      assert.ok(bytes(v.logits).equals(bytes(alone.logits)), `logits differ: ${name}`);
      assert.ok(v.kv.equals(alone.kv), `KV bytes differ: ${name}`);
    }
  });
}
