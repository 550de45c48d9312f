/**
 * The synthetic engine's KV bytes and their verification: contents are a pure function of the
 * tokens (the same whatever the pages or the chunking), logits make greedy output reproducible, and
 * a single flipped byte anywhere, or pages out of order, is caught and named. Then a decode-role
 * scheduler: a room whose arrived KV has one wrong byte fails with that message and frees its pages,
 * while the next room decodes.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { SchedulerOutbound } from '../../actors/scheduler/protocol.js';
import { KvAllocator } from '../../src/kv/kv-allocator.js';
import { Scheduler } from '../../actors/scheduler/scheduler.js';
import type { ForwardItem } from '../../src/engine/engine.js';
import { parseGpu } from '../../src/engine/synthetic/gpus.js';
import { findModelShape, shapeLayout, type ModelShape } from '../../src/engine/synthetic/model-shapes.js';
import { PEAK_LOGIT, SyntheticEngine } from '../../src/engine/synthetic/synthetic-engine.js';
import { KvPool } from '../../src/kv/pool.js';
import { createLogger } from '../../src/log/logger.js';
import { ensureDefaultModel } from '../../src/model/default-model.js';
import { HfTokenizer } from '../../src/model/tokenizer.js';
import { Prng } from '../../src/random/prng.js';
import { DEFAULT_SAMPLING } from '../../src/sampling/params.js';
import { Sampler } from '../../src/sampling/sampler.js';

const VOCAB = 512;
const ORDINARY = Array.from({ length: VOCAB - 3 }, (_, i) => i + 3);
// A fast modelled GPU group: steps wait microseconds, so these tests run at memory speed.
const FAST_GPU = parseGpu('64xb200')!;

function shape(name: string): ModelShape {
  return findModelShape(name)!;
}

function engineOn(s: ModelShape, pageSize: number, pages: number): { engine: SyntheticEngine; pool: KvPool } {
  const pool = new KvPool(shapeLayout(s, pageSize), pages);
  return { engine: new SyntheticEngine(pool, { shape: s, gpu: FAST_GPU, vocabSize: VOCAB, outputTokenIds: ORDINARY, warn: () => {} }), pool };
}

function tokensOf(n: number, seed: number): Int32Array {
  const rng = new Prng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(rng.nextFloat() * VOCAB));
}

/** Feeds `tokens` in chunks of `chunk`; returns the greedy token after the last one. */
function prefill(engine: SyntheticEngine, tokens: Int32Array, pageTable: Int32Array, chunk: number): number {
  let row: Float32Array = new Float32Array(0);
  for (let s = 0; s < tokens.length; s += chunk) {
    const n = Math.min(chunk, tokens.length - s);
    row = engine.forward([{ tokens: tokens.subarray(s, s + n), startPos: s, pageTable, logits: s + n === tokens.length ? 'last' : 'none' }])[0];
  }
  return argmax(row);
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Bytes of (position, layer) in a pool through a page table. */
function slotBytes(pool: KvPool, pageTable: Int32Array, pos: number, layer: number): Uint8Array {
  const { pageSize } = pool.layout;
  const slot = pool.pageBytes / pageSize / pool.layout.numLayers;
  const at = pageTable[Math.floor(pos / pageSize)] * pool.pageBytes + (layer * pageSize + (pos % pageSize)) * slot;
  return new Uint8Array(pool.buffer, at, slot);
}

describe('synthetic KV contents', () => {
  const llama = shape('llama-3.1-8b');

  test('are a pure function of the tokens: other pages and other chunking give the same bytes and tokens', () => {
    const tokens = tokensOf(37, 1);
    const a = engineOn(llama, 4, 12);
    const b = engineOn(llama, 4, 12);
    const tableA = Int32Array.from({ length: 10 }, (_, i) => i);
    const tableB = Int32Array.from({ length: 10 }, (_, i) => 11 - i);
    const nextA = prefill(a.engine, tokens, tableA, 37);
    const nextB = prefill(b.engine, tokens, tableB, 5);
    assert.equal(nextA, nextB);
    assert.ok(ORDINARY.includes(nextA), 'never a special token');
    for (const pos of [0, 3, 4, 20, 36]) {
      for (const layer of [0, 1, 31]) assert.deepEqual(slotBytes(a.pool, tableA, pos, layer), slotBytes(b.pool, tableB, pos, layer), `position ${pos}, layer ${layer}`);
    }
    assert.notDeepEqual(slotBytes(a.pool, tableA, 5, 0), slotBytes(a.pool, tableA, 6, 0), 'positions differ');
    assert.notDeepEqual(slotBytes(a.pool, tableA, 5, 0), slotBytes(a.pool, tableA, 5, 1), 'layers differ');
    assert.equal(a.engine.verifyKv(tokens, tableA, 0, 37), null);
    assert.equal(b.engine.verifyKv(tokens, tableB, 0, 37), null);
    assert.equal(b.engine.verifyKv(tokens, tableB, 17, 30), null, 'a sub-range');
  });

  test('a position depends on every earlier token, and decode continues from the stored KV', () => {
    const { engine, pool } = engineOn(llama, 4, 8);
    const table = Int32Array.from({ length: 8 }, (_, i) => i);
    const tokens = tokensOf(12, 2);
    prefill(engine, tokens, table, 12);
    const before = Uint8Array.from(slotBytes(pool, table, 11, 3));
    const changed = Int32Array.from(tokens);
    changed[0] = (changed[0] + 1) % VOCAB;
    prefill(engine, changed, table, 12);
    assert.notDeepEqual(slotBytes(pool, table, 11, 3), before);
    // Greedy decode token by token equals 'all' logits over the same sequence.
    const seq = Array.from(tokens);
    prefill(engine, tokens, table, 12);
    for (let i = 0; i < 6; i++) {
      const row = engine.forward([{ tokens: Int32Array.of(seq.at(-1)!), startPos: seq.length - 1, pageTable: table, logits: 'last' }])[0];
      assert.equal(row[argmax(row)], PEAK_LOGIT);
      seq.push(argmax(row));
    }
    const all = engine.forward([{ tokens: Int32Array.from(seq.slice(0, -1)), startPos: 0, pageTable: table, logits: 'all' }])[0];
    for (let p = 11; p < seq.length - 1; p++) assert.equal(argmax(all.subarray(p * VOCAB, (p + 1) * VOCAB)), seq[p + 1], `position ${p}`);
  });

  test('one flipped byte anywhere is caught and named: position, layer, byte', () => {
    for (const name of ['llama-3.1-8b', 'deepseek-v3']) {
      const s = shape(name);
      const { engine, pool } = engineOn(s, 16, 4);
      const table = Int32Array.of(2, 0, 3);
      const tokens = tokensOf(40, 3);
      prefill(engine, tokens, table, 16);
      const rng = new Prng(4);
      for (let trial = 0; trial < 20; trial++) {
        const pos = Math.floor(rng.nextFloat() * 40);
        const layer = Math.floor(rng.nextFloat() * s.numLayers);
        const slot = slotBytes(pool, table, pos, layer);
        const byte = Math.floor(rng.nextFloat() * slot.length);
        slot[byte] ^= 1 << Math.floor(rng.nextFloat() * 8);
        const problem = engine.verifyKv(tokens, table, 0, 40);
        assert.match(problem ?? '', new RegExp(`^KV cache of position ${pos}, layer ${layer} \\(page ${table[Math.floor(pos / 16)]}\\) is wrong: byte ${byte} of its ${slot.length} is 0x[0-9a-f]{2}, expected 0x[0-9a-f]{2}$`), `${name} trial ${trial}`);
        prefill(engine, tokens, table, 40);
        assert.equal(engine.verifyKv(tokens, table, 0, 40), null);
      }
    }
  });

  test('pages out of order, and the wrong prompt, fail at their first position', () => {
    const { engine } = engineOn(llama, 4, 6);
    const table = Int32Array.of(0, 1, 2, 3, 4);
    const tokens = tokensOf(18, 5);
    prefill(engine, tokens, table, 18);
    assert.match(engine.verifyKv(tokens, Int32Array.of(0, 2, 1, 3, 4), 0, 18) ?? '', /^KV cache of position 4, layer 0 \(page 2\)/);
    const other = Int32Array.from(tokens);
    other[9] = (other[9] + 1) % VOCAB;
    assert.match(engine.verifyKv(other, table, 0, 18) ?? '', /^KV cache of position 9, layer 0 /);
    assert.equal(engine.verifyKv(other, table, 0, 9), null, 'positions before the change are right');
    assert.throws(() => engine.verifyKv(tokens, table, 0, 19), RangeError);
  });

  test('a pool of another layout, or bad batches, are refused', () => {
    const pool = new KvPool(shapeLayout(shape('deepseek-v3'), 4), 2);
    assert.throws(() => new SyntheticEngine(pool, { shape: llama, gpu: FAST_GPU, vocabSize: VOCAB, outputTokenIds: ORDINARY }), /is not llama-3.1-8b's/);
    const { engine } = engineOn(llama, 4, 2);
    const bad: ForwardItem = { tokens: Int32Array.of(VOCAB), startPos: 0, pageTable: Int32Array.of(0), logits: 'last' };
    assert.throws(() => engine.forward([bad]), /token id 512 outside \[0, 512\)/);
  });
});

describe('decode scheduler on the synthetic engine', () => {
  let tokenizer: HfTokenizer;
  before(async () => {
    tokenizer = HfTokenizer.fromDir(await ensureDefaultModel());
  });

  /**
   * A decode-role scheduler on the synthetic engine, and `arrive`: submits a PD request and plays
   * prefill for it (its KV lands in the pages decode asked for), then delivers the room's notice.
   */
  function decodeNode(maxRunningRequests: number, pages = 16) {
    const s = shape('llama-3.1-8b');
    const { engine, pool } = engineOn(s, 4, pages);
    // Prefill's engine writes into the same pool, standing in for the one-sided write into decode's pages.
    const prefillEngine = new SyntheticEngine(pool, { shape: s, gpu: FAST_GPU, vocabSize: VOCAB, outputTokenIds: ORDINARY });
    const allocator = new KvAllocator(pool.numPages, 4);
    const sent: SchedulerOutbound[] = [];
    const scheduler = new Scheduler(
      { maxRunningRequests, chunkedPrefillSize: 64, contextLength: s.contextLength },
      { engine, allocator, tokenizer, sampler: new Sampler(VOCAB), emit: (m) => sent.push(m), log: createLogger('silent') },
      // grants settle at once: the page list goes out on the next turn
      { role: 'decode', grants: { grant: async () => {}, release: async () => true, cutWriter: async () => true }, bootstrapTimeoutMs: 10_000, transferTimeoutMs: 10_000, maxRooms: 8, maxRoomsPerPeer: 8 },
    );
    const ids = Array.from(tokensOf(10, 6));
    const arrive = async (rid: string, room: string, corrupt?: (table: Int32Array) => void): Promise<SchedulerOutbound[]> => {
      scheduler.submit({
        rid, input: { kind: 'ids', ids: [...ids] }, sampling: { ...DEFAULT_SAMPLING, temperature: 0, maxNewTokens: 4, ignoreEos: true },
        returnLogprob: false, logprobStartLen: -1, topLogprobsNum: 0, returnTextInLogprobs: false, pd: { room, host: '127.0.0.1', port: 1 },
      });
      await new Promise((resolve) => setImmediate(resolve));
      const req = sent.find((m) => m.type === 'kv_request' && m.room === room);
      assert.ok(req?.type === 'kv_request', `a page list for room ${room}`);
      const table = Int32Array.from(req.pageIds);
      const first = prefill(prefillEngine, Int32Array.from(ids), table, 10);
      corrupt?.(table);
      const from = sent.length;
      scheduler.kvArrived(room, { id: first, draws: 0 });
      return sent.slice(from);
    };
    /** What one engine running the whole sequence alone gives after the prompt. */
    const alone = (): number[] => {
      const one = engineOn(s, 4, 16);
      const seq = Array.from(ids);
      const table = Int32Array.from({ length: 4 }, (_, i) => i);
      seq.push(prefill(one.engine, Int32Array.from(ids), table, 10));
      while (seq.length < ids.length + 4) seq.push(prefill(one.engine, Int32Array.from(seq), table, seq.length));
      return seq.slice(ids.length);
    };
    return { scheduler, sent, allocator, pool, arrive, alone };
  }

  test('a room whose arrived KV has one wrong byte fails naming it and frees its pages; the next room decodes', async () => {
    const { scheduler, sent, allocator, pool, arrive, alone } = decodeNode(4);
    const bad = await arrive('bad', '1', (table) => {
      slotBytes(pool, table, 7, 20)[1000] ^= 0x10;
    });
    assert.deepEqual(bad[0], { type: 'kv_verified', room: '1', bytes: 10 * 131_072, ms: (bad[0] as { ms: number }).ms, ok: false });
    assert.ok(bad[1].type === 'failed', JSON.stringify(bad[1]));
    assert.equal(bad[1].status, 502);
    assert.match(bad[1].message, /^KV cache verification failed: KV cache of position 7, layer 20 \(page \d+\) is wrong: byte 1000 of its 4096 is 0x[0-9a-f]{2}, expected 0x[0-9a-f]{2}; the KV the prefill node sent does not match this prompt$/);
    assert.equal(bad.length, 2);
    assert.equal(allocator.freePages, allocator.totalPages, 'the failed room freed its pages');
    assert.equal(scheduler.openRooms(), 0);

    const good = await arrive('good', '2');
    assert.equal(good[0].type === 'kv_verified' && good[0].ok, true);
    assert.equal(good[1].type, 'tokens');
    while (scheduler.hasWork()) scheduler.step();
    const finished = sent.find((m) => m.type === 'finished' && m.rid === 'good');
    assert.ok(finished?.type === 'finished');
    assert.equal(finished.meta.outputIds.length, 4);
    // Decode continued from the arrived KV exactly as one engine running the whole sequence would.
    assert.deepEqual(finished.meta.outputIds, alone());
    assert.equal(allocator.freePages, allocator.totalPages);
  });

  test('arrived rooms join the running batch only up to --max-running-requests; the rest wait, holding their pages, and all finish', async () => {
    const { scheduler, sent, allocator, arrive, alone } = decodeNode(2, 32);
    for (let r = 1; r <= 5; r++) await arrive(`r${r}`, String(r));
    assert.deepEqual([scheduler.stats().running, scheduler.stats().waiting], [0, 5], 'all five arrived: ready, none running yet');
    const heldBefore = allocator.totalPages - allocator.freePages;
    scheduler.step();
    assert.deepEqual([scheduler.stats().running, scheduler.stats().waiting], [2, 3]);
    assert.equal(allocator.totalPages - allocator.freePages, heldBefore, 'the waiting rooms still hold their pages (no page needed yet)');
    let steps = 1;
    while (scheduler.hasWork()) {
      scheduler.step();
      assert.ok(scheduler.stats().running <= 2, `step ${++steps}: ${JSON.stringify(scheduler.stats())}`);
    }
    const expected = alone();
    const finished = sent.filter((m) => m.type === 'finished');
    assert.deepEqual(finished.map((m) => m.rid), ['r1', 'r2', 'r3', 'r4', 'r5'], 'in arrival order, two at a time');
    for (const f of finished) assert.deepEqual(f.type === 'finished' && f.meta.outputIds, expected);
    assert.equal(allocator.freePages, allocator.totalPages);
  });
});
