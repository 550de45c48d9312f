/**
 * (d) Bad input is rejected with a clear error before anything is written to the pool: page tables
 * that do not cover the positions, page ids outside the pool or repeated, pages written by one item and
 * used by another, positions beyond max_position_embeddings, bad token ids; and at construction a pool
 * whose layout does not fit the model or dimensions the kernels do not support.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ForwardItem } from '../../src/engine/engine.js';
import { ReferenceEngine } from '../../src/engine/reference/llama-engine.js';
import { gqaLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { makeEngine, NUM_PAGES, PAGE_SIZE, SETUPS, tinyModel } from './engine-harness.js';
import { item, randomWeights, tinyConfig } from './random-model.js';

const toks = (...ids: number[]): Int32Array => Int32Array.from(ids);
const pages = (...ids: number[]): Int32Array => Int32Array.from(ids);
const maxPos = tinyModel.config.maxPositionEmbeddings;

const rejected: [string, ForwardItem[], RegExp][] = [
  ['page table too short', [item(toks(1, 2, 3, 4, 5), 0, pages(3))], /page table has 1 pages; positions \[0, 5\) need 2/],
  ['page table too short for startPos', [item(toks(1), 8, pages(3, 4))], /positions \[0, 9\) need 3/],
  ['page id beyond the pool', [item(toks(1, 2), 0, pages(NUM_PAGES))], /page id 64 outside the pool/],
  ['negative page id', [item(toks(1), 4, pages(2, -1))], /page id -1 outside the pool/],
  ['page repeated in a table', [item(toks(1, 2, 3, 4, 5), 0, pages(6, 6))], /page 6 appears twice/],
  ['page written by another item', [item(toks(1, 2), 0, pages(7)), item(toks(3), 4, pages(7, 8))], /items 0 and 1 share page 7, which item 0 writes/],
  ['positions beyond max_position_embeddings', [item(toks(1, 2), maxPos - 1, Int32Array.from({ length: NUM_PAGES }, (_, i) => i))], /positions \[255, 257\) exceed max_position_embeddings 256/],
  ['negative startPos', [item(toks(1), -1, pages(0))], /startPos -1/],
  ['token id out of range', [item(toks(1, tinyModel.config.vocabSize), 0, pages(0))], /token id 300 outside/],
  ['no tokens', [item(toks(), 0, pages(0))], /no tokens/],
];

for (const [what, items, message] of rejected) {
  test(`forward rejects: ${what}`, () => {
    const { engine, pool } = makeEngine(SETUPS[0]);
    assert.throws(() => engine.forward(items), message);
    assert.ok(new Uint8Array(pool.buffer).every((b) => b === 0), 'nothing was written to the pool');
  });
}

test('forward accepts a read-only shared prefix page and exactly covering tables', () => {
  const { engine } = makeEngine(SETUPS[0]);
  engine.forward([item(toks(1, 2, 3, 4), 0, pages(5))]);
  const out = engine.forward([item(toks(9), 4, pages(5, 6)), item(toks(8), 4, pages(5, 7), 'none'), item(toks(7), 0, pages(8), 'all')]);
  assert.deepEqual(out.map((o) => o.length), [tinyModel.config.vocabSize, 0, tinyModel.config.vocabSize]);
  assert.deepEqual(engine.forward([]), []);
});

test('forward hands out logits as views of one reused buffer, valid until the next step (no copy per token)', () => {
  for (const setup of SETUPS) {
    const { engine } = makeEngine(setup);
    engine.forward([item(toks(1, 2, 3), 0, pages(5), 'none')]);
    const [first] = engine.forward([item(toks(4), 3, pages(5))]);
    const kept = first.slice();
    const [second] = engine.forward([item(toks(5), 4, pages(5, 6))]);
    assert.equal(second.buffer, first.buffer, `${setup.kernel}: the same buffer`);
    assert.equal(second.byteOffset, first.byteOffset, `${setup.kernel}: the same place`);
    assert.notDeepEqual(kept, second, `${setup.kernel}: the two steps' logits differ`);
    assert.deepEqual(first, second, `${setup.kernel}: the first step's view now shows the second step's logits`);
  }
});

test('construction rejects a pool layout that does not fit the model', () => {
  const { config, weights } = tinyModel;
  const wrong = [
    gqaLayout(config.numLayers + 1, config.numKvHeads, config.headDim, 'float32', PAGE_SIZE),
    gqaLayout(config.numLayers, config.numKvHeads, config.headDim, 'float16', PAGE_SIZE),
    gqaLayout(config.numLayers, config.numHeads, config.headDim, 'float32', PAGE_SIZE),
  ];
  for (const layout of wrong) {
    assert.throws(() => new ReferenceEngine(config, weights, new KvPool(layout, 4), { kernel: 'js' }), /KV pool layout .* does not fit the model/);
  }
});

test('construction rejects dimensions the kernels do not support and mis-sized weights', () => {
  const layout = (c: typeof tinyModel.config): KvPool => new KvPool(gqaLayout(c.numLayers, c.numKvHeads, c.headDim, 'float32', PAGE_SIZE), 4);
  const odd = tinyConfig({ intermediateSize: 170 });
  assert.throws(() => new ReferenceEngine(odd, randomWeights(odd, 1), layout(odd), { kernel: 'wasm' }), /intermediate_size 170 must be a positive multiple of 4/);
  const { config, weights } = tinyModel;
  const short = { ...weights, layers: weights.layers.map((l, i) => (i === 1 ? { ...l, up: l.up.subarray(1) } : l)) };
  assert.throws(() => new ReferenceEngine(config, short, layout(config), { kernel: 'wasm' }), /layer 1 up has 11007 values, expected 172 x 64/);
});
