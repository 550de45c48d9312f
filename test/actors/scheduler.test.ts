/**
 * The scheduler actor on a real node (worker thread, tiny model): continuous batching under pool
 * pressure, chunked prefill, stop conditions, seeds, cancellation and rejections.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, type NodeHandle } from '../../src/index.js';
import { withTimeout } from '../../src/util/timeout.js';
import { generate } from '../helpers/generate.js';
import { waitForIdle } from '../helpers/wait.js';

const prompts = Array.from({ length: 64 }, (_, i) => `Request number ${i}: tell me about ${['cats', 'rivers', 'the sea', 'old maps'][i % 4]} and ${'more '.repeat(i % 5)}`);

describe('scheduler', () => {
  let roomy: NodeHandle;
  let tight: NodeHandle;
  let chunky: NodeHandle;

  before(async () => {
    [roomy, tight, chunky] = await Promise.all([
      startNode({ port: 0, logLevel: 'silent' }),
      // 64 pages of 4 tokens: far less than the 64 requests below need together.
      startNode({ port: 0, logLevel: 'silent', pageSize: 4, maxTotalTokens: 256, maxRunningRequests: 16 }),
      startNode({ port: 0, logLevel: 'silent', chunkedPrefillSize: 5, pageSize: 2 }),
    ]);
  });
  after(async () => {
    await Promise.all([roomy?.close(), tight?.close(), chunky?.close()]);
  });

  test('64 concurrent requests on a pool smaller than their demand all finish, identical to running alone', async () => {
    const alone = [];
    for (const p of prompts) alone.push(await generate(roomy.client, p, { sampling: { maxNewTokens: 24, ignoreEos: true } }));
    const demand = alone.reduce((n, r) => n + r.meta.promptTokens + 24, 0);
    const stats = await tight.client.stats();
    assert.ok(demand > 4 * stats.maxTotalTokens, `demand ${demand} vs pool ${stats.maxTotalTokens}`);
    const together = await Promise.all(prompts.map((p) => generate(tight.client, p, { sampling: { maxNewTokens: 24, ignoreEos: true } })));
    for (let i = 0; i < prompts.length; i++) {
      assert.deepEqual(together[i].ids, alone[i].ids, `request ${i}`);
      assert.equal(together[i].text, alone[i].text);
      assert.deepEqual(together[i].meta.finishReason, { type: 'length', length: 24 });
    }
    await waitForIdle(tight.client);
  });

  test('chunked prefill (5-token chunks, 2-token pages) gives the same tokens and input logprobs', async () => {
    const long = 'A prompt long enough to need many chunks and pages: ' + 'one two three four five six seven. '.repeat(6);
    const a = await generate(roomy.client, long, { sampling: { maxNewTokens: 16, ignoreEos: true }, returnLogprob: true, logprobStartLen: 0 });
    const b = await generate(chunky.client, long, { sampling: { maxNewTokens: 16, ignoreEos: true }, returnLogprob: true, logprobStartLen: 0 });
    assert.ok(a.meta.promptTokens > 20);
    assert.deepEqual(b.ids, a.ids);
    assert.deepEqual(b.logprobs, a.logprobs);
    assert.equal(a.meta.inputTokenLogprobs?.length, a.meta.promptTokens);
    assert.deepEqual(b.meta.inputTokenLogprobs, a.meta.inputTokenLogprobs);
    assert.equal(a.meta.inputTokenLogprobs?.[0][0], null);
    for (const [lp] of a.meta.inputTokenLogprobs!.slice(1)) assert.ok(typeof lp === 'number' && lp <= 0);
    await waitForIdle(chunky.client);
  });

  test('stop strings, stop token ids, eos and max_new_tokens end a request as SGLang reports them', async () => {
    const base = await generate(roomy.client, 'Once upon a time', { sampling: { maxNewTokens: 20, ignoreEos: true } });
    assert.equal(base.ids.length, 20);
    // A stop string taken from the middle of the output: the text ends right before it.
    const cut = Math.floor(base.text.length / 2);
    const stop = base.text.slice(cut, cut + 2);
    const stopped = await generate(roomy.client, 'Once upon a time', { sampling: { maxNewTokens: 20, ignoreEos: true, stop: [stop] } });
    assert.deepEqual(stopped.meta.finishReason, { type: 'stop', matched: stop });
    assert.equal(stopped.text, base.text.slice(0, base.text.indexOf(stop)));
    // A stop token id: generation ends on it, and it is the last output id.
    const stopId = base.ids[5];
    const byId = await generate(roomy.client, 'Once upon a time', { sampling: { maxNewTokens: 20, ignoreEos: true, stopTokenIds: [stopId] } });
    assert.deepEqual(byId.meta.finishReason, { type: 'stop', matched: stopId });
    assert.deepEqual(byId.ids, base.ids.slice(0, base.ids.indexOf(stopId) + 1));
  });

  test('EOS ends generation unless ignore_eos', async () => {
    // Hot sampling over fixed seeds: deterministic, and some seed reaches an EOS id within 16 tokens.
    const eosIds = roomy.client.model.eosTokenIds;
    const run = (seed: number, ignoreEos: boolean) =>
      generate(roomy.client, { kind: 'ids', ids: [5, 6, 7] }, { sampling: { maxNewTokens: 16, temperature: 5, seed, ignoreEos } });
    let hit: { seed: number; ids: number[]; matched: unknown } | null = null;
    for (let seed = 1; seed <= 400 && !hit; seed += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, (_, i) => run(seed + i, false)));
      const found = batch.findIndex((r) => r.meta.finishReason.type === 'stop');
      if (found >= 0) hit = { seed: seed + found, ids: batch[found].ids, matched: (batch[found].meta.finishReason as { matched: unknown }).matched };
    }
    assert.ok(hit, 'no seed in 1..400 produced an EOS id');
    const last = hit.ids.at(-1)!;
    assert.ok(eosIds.includes(last), `ended on ${last}, EOS ids are ${eosIds}`);
    assert.equal(hit.matched, last);
    assert.ok(hit.ids.slice(0, -1).every((id) => !eosIds.includes(id)));
    // The same seed with ignore_eos goes past the EOS id to max_new_tokens.
    const past = await run(hit.seed, true);
    assert.equal(past.ids.length, 16);
    assert.deepEqual(past.ids.slice(0, hit.ids.length), hit.ids);
  });

  test('a seed reproduces sampled output; different seeds differ', async () => {
    const run = (seed: number) => generate(roomy.client, 'Sampling test', { sampling: { temperature: 1.0, maxNewTokens: 24, ignoreEos: true, seed } });
    const [a, b, c] = await Promise.all([run(11), run(11), run(12)]);
    assert.deepEqual(a.ids, b.ids);
    assert.notDeepEqual(a.ids, c.ids);
  });

  test('aborting a running request frees its pages and leaves others untouched', async () => {
    // The victim is decoding before the other starts, and the abort is sent from the other's own
    // token events, so it lands while both run (whatever the machine's load does to the pace).
    let victimDecoding!: () => void;
    const decoding = new Promise<void>((resolve) => (victimDecoding = resolve));
    const victim = generate(roomy.client, 'to be cancelled', { rid: 'victim', sampling: { maxNewTokens: 1000, ignoreEos: true }, onTokens: () => victimDecoding() });
    await withTimeout(decoding, 30_000, 'the victim\'s first token');
    let aborted = false;
    const other = generate(roomy.client, 'keep going', {
      sampling: { maxNewTokens: 40, ignoreEos: true },
      onTokens: (n) => {
        if (n >= 3 && !aborted) {
          aborted = true;
          roomy.client.abort('victim', 'test');
        }
      },
    });
    const done = await other;
    assert.equal(done.ids.length, 40);
    assert.ok(aborted);
    await waitForIdle(roomy.client);
    // No event follows an abort: the victim's promise never settles.
    const settled = await Promise.race([victim.then(() => true, () => true), new Promise((r) => setTimeout(() => r(false), 100))]);
    assert.equal(settled, false);
  });

  test('requests that cannot fit are rejected with a reason, and nothing leaks', async () => {
    await assert.rejects(generate(tight.client, { kind: 'ids', ids: Array(300).fill(5) }, { sampling: { maxNewTokens: 1 } }), (e: Error & { status?: number }) => {
      assert.equal(e.status, 400);
      assert.match(e.message, /--max-total-tokens/);
      return true;
    });
    const ctx = roomy.client.model.contextLength;
    await assert.rejects(generate(roomy.client, { kind: 'ids', ids: Array(ctx).fill(5) }), /context length/);
    await assert.rejects(generate(roomy.client, { kind: 'ids', ids: [1, 2, 100000] }), /input_ids\[2\] = 100000 is outside the vocabulary/);
    await assert.rejects(generate(roomy.client, { kind: 'ids', ids: [] }), /empty/);
    await waitForIdle(tight.client);
    await waitForIdle(roomy.client);
  });
});
