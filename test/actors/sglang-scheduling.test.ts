/**
 * SGLang's scheduling flags on the scheduler: the pool sized from --mem-fraction-static,
 * --context-length, --schedule-policy (lof and random orders; fcfs for the prefix-cache policies)
 * and --random-seed; on real nodes (worker thread, tiny model) where the effect shows in output.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contextLengthOf } from '../../actors/scheduler/context-length.js';
import { hostMemoryBytes, poolSize } from '../../actors/scheduler/pool-size.js';
import { heldBytes } from '../../src/model/held-bytes.js';
import { waitingOrder } from '../../actors/scheduler/schedule-policy.js';
import type { Sequence } from '../../actors/scheduler/sequence.js';
import { startNode, type NodeHandle } from '../../src/index.js';
import { bytesPerToken, gqaLayout } from '../../src/kv/layout.js';
import { ensureDefaultModel } from '../../src/model/default-model.js';
import { loadModel } from '../../src/model/load-model.js';
import { generate } from '../helpers/generate.js';

const MIB = 2 ** 20;
const layout = gqaLayout(2, 2, 16, 'float32', 16); // K and V: 512 B per token, 8 KiB per page

describe('pool size', () => {
  test('--mem-fraction-static: fraction x memory - weights; --max-total-tokens lowers it; a WASM pool is capped', () => {
    const memory = { fraction: 0.5, hostBytes: 64 * MIB, weightBytes: 16 * MIB };
    const base = { defaultTokens: 1024, maxTotalTokens: null, memory, maxPoolBytes: null };
    assert.deepEqual(poolSize(layout, base), { pages: (16 * MIB) / 8192, note: null });
    assert.deepEqual(poolSize(layout, { ...base, maxTotalTokens: 1000 }), { pages: Math.ceil(1000 / 16), note: null });
    const over = poolSize(layout, { ...base, maxTotalTokens: 10 ** 9 });
    assert.equal(over.pages, (16 * MIB) / 8192);
    assert.match(over.note!, /--max-total-tokens 1000000000 is more than --mem-fraction-static 0.5 leaves \(32768 tokens\)/);
    const capped = poolSize(layout, { ...base, maxPoolBytes: 4 * MIB });
    assert.equal(capped.pages, (4 * MIB) / 8192);
    assert.match(capped.note!, /capped at 8192 tokens \(4 MiB\): the engine keeps it in memory of that size/);
    assert.throws(() => poolSize(layout, { ...base, memory: { ...memory, fraction: 0.25 } }), /^Error: --mem-fraction-static 0.25 leaves no room for the KV cache: 0.25 x 64 MiB of host memory = 16 MiB, and the weights take 16 MiB$/);
  });

  test('without --mem-fraction-static the defaults stand', () => {
    assert.equal(poolSize(layout, { defaultTokens: 1024, maxTotalTokens: 4096, memory: null, maxPoolBytes: null }).pages, 256);
  });

  test('weights are counted once per array (tied embeddings)', () => {
    const embed = new Float32Array(10);
    assert.equal(heldBytes({ embed, lmHead: embed, layers: [{ q: new Uint16Array(4) }] }), 48);
  });

  test('--context-length lowers the model\'s, never raises it', () => {
    assert.equal(contextLengthOf(2048, null), 2048);
    assert.equal(contextLengthOf(2048, 512), 512);
    assert.throws(() => contextLengthOf(2048, 4096), /^Error: --context-length 4096 is above the model's context length 2048: it can only be lowered$/);
  });
});

describe('schedule policy order', () => {
  const seqs = (maxNew: number[]): Sequence[] => maxNew.map((maxNewTokens, arrival) => ({ maxNewTokens, arrival }) as Sequence);
  test('lof: longest max_new_tokens first, arrival among equals; fcfs, lpm and dfs-weight keep arrival order', () => {
    const waiting = seqs([4, 30, 4, 12]);
    waitingOrder('lof', null)!(waiting);
    assert.deepEqual(waiting.map((s) => s.arrival), [1, 3, 0, 2]);
    for (const p of ['fcfs', 'lpm', 'dfs-weight'] as const) assert.equal(waitingOrder(p, null), null);
  });

  test('random: a permutation, the same for the same --random-seed', () => {
    const orderOf = (seed: number): number[] => {
      const waiting = seqs(Array.from({ length: 16 }, () => 1));
      const order = waitingOrder('random', seed)!;
      order(waiting);
      order(waiting);
      return waiting.map((s) => s.arrival);
    };
    assert.deepEqual([...orderOf(1)].sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => i));
    assert.deepEqual(orderOf(1), orderOf(1));
    assert.notDeepEqual(orderOf(1), orderOf(2));
  });
});

describe('scheduling flags on a node', () => {
  let lof: NodeHandle;
  let fcfs: NodeHandle;
  let seeded: NodeHandle;
  let sized: NodeHandle;
  let fraction: number;
  let expectedTokens: number;

  before(async () => {
    // One running request at a time, so the order of admission is the order of finishing.
    const one = { port: 0, logLevel: 'silent' as const, maxRunningRequests: 1 };
    // A fraction that leaves the pool about 2 MiB past the weights.
    const dir = await ensureDefaultModel();
    const { config, weights } = loadModel(dir);
    const weightBytes = heldBytes(weights);
    const memory = hostMemoryBytes();
    fraction = (weightBytes + 2 * MIB) / memory;
    const perToken = bytesPerToken(gqaLayout(config.numLayers, config.numKvHeads, config.headDim, 'float32', 16));
    expectedTokens = Math.ceil(Math.floor((Math.floor(fraction * memory) - weightBytes) / perToken) / 16) * 16;
    [lof, fcfs, seeded, sized] = await Promise.all([
      startNode({ ...one, schedulePolicy: 'lof' }),
      startNode({ ...one, schedulePolicy: 'fcfs' }),
      startNode({ port: 0, logLevel: 'silent', randomSeed: 7 }),
      startNode({ port: 0, logLevel: 'silent', memFractionStatic: fraction, contextLength: 64 }),
    ]);
  });
  after(async () => {
    await Promise.all([lof, fcfs, seeded, sized].map((n) => n?.close()));
  });

  /** A runs first; B (2 tokens) and C (30 tokens) arrive while it runs and wait; the order they finish in. */
  async function finishOrder(node: NodeHandle): Promise<string[]> {
    const done: string[] = [];
    let aRunning!: () => void;
    const aStarted = new Promise<void>((resolve) => (aRunning = resolve));
    const run = (name: string, maxNewTokens: number, onTokens?: () => void): Promise<void> =>
      generate(node.client, `request ${name}`, { sampling: { maxNewTokens, ignoreEos: true }, onTokens }).then(() => void done.push(name));
    const a = run('A', 16, () => aRunning());
    await aStarted;
    await Promise.all([a, run('B', 2), run('C', 30)]);
    return done;
  }

  test('--schedule-policy lof admits the longest output first; fcfs the oldest', async () => {
    assert.deepEqual(await finishOrder(fcfs), ['A', 'B', 'C']);
    assert.deepEqual(await finishOrder(lof), ['A', 'C', 'B']);
  });

  test('--random-seed seeds requests without a seed: the same request id samples the same tokens, another seed others', async () => {
    const sample = (node: NodeHandle): Promise<number[]> =>
      generate(node.client, 'Once upon a time', { rid: 'same-rid', sampling: { temperature: 1, maxNewTokens: 24, ignoreEos: true } }).then((r) => r.ids);
    const first = await sample(seeded);
    assert.deepEqual(await sample(seeded), first);
    assert.notDeepEqual(await sample(fcfs), first, 'without --random-seed the request id alone seeds it');
  });

  test('--mem-fraction-static sizes the pool from host memory; --context-length bounds requests', async () => {
    assert.equal((await sized.client.stats()).maxTotalTokens, expectedTokens);
    assert.equal(sized.client.model.contextLength, 64);
    await assert.rejects(generate(sized.client, 'word '.repeat(80)), /the model's context length is 64/);
  });
});
