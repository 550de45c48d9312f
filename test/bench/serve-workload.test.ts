/**
 * What pd-bench serve sends and when: datasets and arrival times are functions of the seed (PD and
 * colocated runs see the same load), lengths stay in their ranges, the mix has long prompts among
 * short ones, JSONL files are read in both shapes with errors naming the line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { arrivalOffsetsMs } from '../../bench/serve/arrivals.js';
import { loadJsonlDataset } from '../../bench/serve/jsonl-dataset.js';
import { mixDataset, randomDataset, rangeFromRatio } from '../../bench/serve/random-dataset.js';

describe('arrivals', () => {
  test('Poisson: the same seed gives the same times, another seed others; mean gap about 1/rate', () => {
    const a = arrivalOffsetsMs(2000, 10, 7);
    assert.deepEqual(a, arrivalOffsetsMs(2000, 10, 7));
    assert.notDeepEqual(a, arrivalOffsetsMs(2000, 10, 8));
    assert.equal(a[0], 0);
    for (let i = 1; i < a.length; i++) assert.ok(a[i] >= a[i - 1]);
    const meanGap = a[a.length - 1] / (a.length - 1);
    assert.ok(meanGap > 90 && meanGap < 110, `mean gap ${meanGap} ms at 10 req/s`);
  });

  test('an infinite rate sends everything at once', () => {
    assert.deepEqual([...arrivalOffsetsMs(3, Infinity, 1)], [0, 0, 0]);
  });
});

describe('random and mix datasets', () => {
  const spec = { input: { min: 5, max: 9 }, output: { min: 2, max: 3 } };

  test('deterministic from the seed, lengths in range, ids in the vocabulary', () => {
    const a = randomDataset(200, spec, 50, 3);
    assert.deepEqual(a, randomDataset(200, spec, 50, 3));
    assert.notDeepEqual(a, randomDataset(200, spec, 50, 4));
    for (const p of a) {
      assert.ok('inputIds' in p.input);
      assert.equal(p.input.inputIds.length, p.inputLen);
      assert.ok(p.inputLen! >= 5 && p.inputLen! <= 9 && p.outputLen >= 2 && p.outputLen <= 3);
      assert.ok(p.input.inputIds.every((id) => Number.isInteger(id) && id >= 0 && id < 50));
    }
    assert.deepEqual(new Set(a.map((p) => p.inputLen)), new Set([5, 6, 7, 8, 9]), 'both ends of the range occur');
  });

  test('the first N prompts do not depend on how many follow (warm-up prompts come after)', () => {
    assert.deepEqual(randomDataset(10, spec, 50, 3), randomDataset(12, spec, 50, 3).slice(0, 10));
  });

  test('--random-range-ratio gives [N x ratio, N]', () => {
    assert.deepEqual(rangeFromRatio(256, 0.5), { min: 128, max: 256 });
    assert.deepEqual(rangeFromRatio(256, 1), { min: 256, max: 256 });
    assert.deepEqual(rangeFromRatio(1, 0.1), { min: 1, max: 1 });
  });

  test('mix: about --long-fraction long prompts with short outputs, among short prompts with long outputs', () => {
    const long = { input: { min: 100, max: 100 }, output: { min: 1, max: 1 } };
    const mix = mixDataset(1000, { short: spec, long, longFraction: 0.25 }, 50, 1);
    assert.deepEqual(mix, mixDataset(1000, { short: spec, long, longFraction: 0.25 }, 50, 1));
    const longs = mix.filter((p) => p.kind === 'long');
    assert.ok(longs.length > 200 && longs.length < 300, `${longs.length} long prompts of 1000`);
    assert.ok(longs.every((p) => p.inputLen === 100 && p.outputLen === 1));
    assert.ok(mix.filter((p) => p.kind === 'short').every((p) => p.inputLen! <= 9));
  });
});

describe('JSONL datasets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-jsonl-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, lines: unknown[]): string => {
    const path = join(dir, name);
    writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
    return path;
  };
  const words = (text: string): number => text.split(' ').length;

  test('ShareGPT: first human turn is the prompt, the gpt turn after it gives the output length; prompt/output_len lines too', () => {
    const path = file('mixed.jsonl', [
      { conversations: [{ from: 'system', value: 'be brief' }, { from: 'human', value: 'hello there' }, { from: 'gpt', value: 'one two three' }] },
      { conversations: [{ from: 'human', value: 'no answer' }] },
      '',
      { prompt: 'count to five', output_len: 5 },
    ]);
    const d = loadJsonlDataset(path, 4, 1, () => words);
    assert.deepEqual([d.distinct, d.skipped], [2, 1]);
    const byPrompt = new Map(d.prompts.map((p) => ['text' in p.input ? p.input.text : '', p.outputLen]));
    assert.deepEqual(Object.fromEntries(byPrompt), { 'hello there': 3, 'count to five': 5 });
    assert.equal(d.prompts.length, 4, 'prompts are reused in turn when the file has fewer');
    assert.deepEqual(d.prompts, loadJsonlDataset(path, 4, 1, () => words).prompts);
  });

  test('the tokenizer is needed only for conversation lines', () => {
    const path = file('plain.jsonl', [{ prompt: 'a', output_len: 2 }]);
    const d = loadJsonlDataset(path, 1, 1, () => {
      throw new Error('no tokenizer');
    });
    assert.equal(d.prompts[0].outputLen, 2);
  });

  test('a line that is not JSON or of neither shape is an error naming the file and line', () => {
    assert.throws(() => loadJsonlDataset(file('bad.jsonl', [{ prompt: 'a', output_len: 1 }, '{oops']), 1, 1, () => words), /bad\.jsonl:2: not JSON/);
    assert.throws(() => loadJsonlDataset(file('shape.jsonl', [{ text: 'a' }]), 1, 1, () => words), /shape\.jsonl:1: expected/);
    assert.throws(() => loadJsonlDataset(file('none.jsonl', [{ conversations: [] }]), 1, 1, () => words), /no usable prompt/);
  });
});
