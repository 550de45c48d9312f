import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sampler, argmax } from '../../src/sampling/sampler.js';
import { DEFAULT_SAMPLING, type SamplingParams } from '../../src/sampling/params.js';
import { Prng, hashString } from '../../src/random/prng.js';
import { rowLogsumexp, topLogprobs } from '../../src/sampling/logprobs.js';

const logits = Float32Array.from([1.0, 3.0, 2.5, -1.0, 3.0, 0.0]);
const params = (p: Partial<SamplingParams>): SamplingParams => ({ ...DEFAULT_SAMPLING, ...p });

function histogram(p: SamplingParams, draws: number, seed = 1): number[] {
  const s = new Sampler(logits.length);
  const rng = new Prng(seed);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[s.sample(logits, p, rng)]++;
  return counts;
}

test('greedy picks the first maximum', () => {
  assert.equal(argmax(logits), 1);
  assert.equal(new Sampler(6).sample(logits, params({ temperature: 0 }), new Prng(1)), 1);
  assert.equal(new Sampler(6).sample(logits, params({ topK: 1 }), new Prng(1)), 1);
});

test('temperature sampling follows softmax frequencies', () => {
  const counts = histogram(params({ temperature: 1 }), 20000);
  const z = [...logits].reduce((s, l) => s + Math.exp(l), 0);
  for (let i = 0; i < logits.length; i++) {
    const expected = Math.exp(logits[i]) / z;
    assert.ok(Math.abs(counts[i] / 20000 - expected) < 0.02, `token ${i}: ${counts[i] / 20000} vs ${expected}`);
  }
});

test('top_k, top_p and min_p cut the candidates', () => {
  const k2 = histogram(params({ topK: 2 }), 3000);
  assert.deepEqual(k2.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0), [1, 4]);
  // p(1)=p(4)~0.36, p(2)~0.22: top_p 0.7 keeps the two 3.0 logits only.
  const p7 = histogram(params({ topP: 0.7 }), 3000);
  assert.deepEqual(p7.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0), [1, 4]);
  // min_p 0.5 keeps tokens with p >= 0.5 * p_max: exp(2.5-3) = 0.61 passes, exp(1-3) = 0.14 does not.
  const m5 = histogram(params({ minP: 0.5 }), 3000);
  assert.deepEqual(m5.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0), [1, 2, 4]);
  const m5k = histogram(params({ minP: 0.5, topK: 5 }), 3000);
  assert.deepEqual(m5k.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0), [1, 2, 4]);
});

test('a seed reproduces the same draws, another seed differs', () => {
  const p = params({ temperature: 1.5 });
  const draw = (seed: number): number[] => {
    const s = new Sampler(6);
    const rng = new Prng(seed);
    return Array.from({ length: 64 }, () => s.sample(logits, p, rng));
  };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
  assert.equal(hashString('abc'), hashString('abc'));
  assert.notEqual(hashString('abc'), hashString('abd'));
});

test('logprobs are a normalised log_softmax and top-n is ordered', () => {
  const lse = rowLogsumexp(logits, 0, 6);
  const total = [...logits].reduce((s, l) => s + Math.exp(l - lse), 0);
  assert.ok(Math.abs(total - 1) < 1e-12);
  const top = topLogprobs(logits, 0, 6, 3, lse);
  assert.deepEqual(top.map((t) => t[1]), [1, 4, 2]);
  assert.ok(Math.abs((top[0][0] as number) - (3 - lse)) < 1e-6);
});
