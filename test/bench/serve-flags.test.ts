/**
 * pd-bench serve's flags: defaults, --quick, node-arg pass-through, and the usage errors (each
 * naming its flag), in process; plus one real `pd-bench` process for the exit status of a usage error.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import yargs from 'yargs';
import { parseStrictly } from '../../src/cli/flag-values.js';
import { addServeFlags, serveConfigFrom, type ServeConfig } from '../../bench/serve/serve-flags.js';
import { runPdBench } from './pd-bench-process.js';

function parse(args: string[]): ServeConfig {
  return serveConfigFrom(parseStrictly(addServeFlags(yargs(args)).help(false)));
}

describe('pd-bench serve flags', () => {
  test('defaults, and --quick shrinking only what was not given', () => {
    const c = parse(['--url', 'http://127.0.0.1:8000/']);
    assert.deepEqual(c.target, { kind: 'url', url: 'http://127.0.0.1:8000' });
    assert.deepEqual([c.numPrompts, c.warmup, c.requestRate, c.maxConcurrency, c.seed], [50, 1, Infinity, null, 1]);
    assert.deepEqual(c.dataset, { name: 'random', spec: { input: { min: 256, max: 256 }, output: { min: 64, max: 64 } } });
    const q = parse(['--url', 'http://h:1', '--quick', '--output-len', '4-6']);
    assert.equal(q.numPrompts, 8);
    assert.deepEqual(q.dataset, { name: 'random', spec: { input: { min: 32, max: 32 }, output: { min: 4, max: 6 } } });
  });

  test('--compare colocated launches PD; --node-arg words pass through in order', () => {
    const c = parse(['--compare', 'colocated', '--node-arg=--engine=synthetic', '--node-arg=--model-shape=llama-3.1-8b', '--transfer-backend', 'shm', '--request-rate', '2.5', '--slo-itl-ms', '50']);
    assert.deepEqual(c.target, { kind: 'launch', launch: 'pd', compare: true, modelPath: null, preset: null, transferBackend: 'shm', nodeArgs: ['--engine=synthetic', '--model-shape=llama-3.1-8b'] });
    assert.equal(c.requestRate, 2.5);
    assert.deepEqual(c.slo, { ttftMs: null, itlMs: 50 });
  });

  test('mix and jsonl datasets', () => {
    const m = parse(['--launch', 'colocated', '--dataset', 'mix', '--long-fraction', '0.5', '--long-input-len', '900-1000', '--random-range-ratio', '0.5', '--input-len', '64']);
    assert.deepEqual(m.dataset, { name: 'mix', spec: { short: { input: { min: 32, max: 64 }, output: { min: 32, max: 64 } }, long: { input: { min: 900, max: 1000 }, output: { min: 1, max: 2 } }, longFraction: 0.5 } });
    assert.deepEqual(parse(['--launch', 'pd', '--dataset', 'jsonl', '--dataset-path', 'f.jsonl']).dataset, { name: 'jsonl', path: 'f.jsonl', tokenizer: null });
  });

  test('bad values and meaningless combinations are errors naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [[], /name a target: --url URL/],
      [['--url', 'http://h:1', '--launch', 'pd'], /--url benchmarks an existing deployment/],
      [['--url', 'http://h:1', '--compare', 'colocated'], /cannot be combined with --launch or --compare/],
      [['--compare', 'pd'], /--compare must be one of colocated \(got "pd"\)/],
      [['--launch', 'colocated', '--compare', 'colocated'], /use it with --launch pd/],
      [['--url', 'h:1'], /--url must look like http:\/\/HOST:PORT \(got "h:1"\)/],
      [['--url', 'http://h:1', '--node-arg=--port=1'], /--node-arg only applies to launched nodes/],
      [['--launch', 'pd', '--node-arg=abc'], /--node-arg takes one pd-node flag written with =/],
      [['--launch', 'pd', '--model-path', 'x', '--preset', 'tiny'], /--model-path or --preset, not both/],
      [['--launch', 'pd', '--preset', 'huge'], /--preset must be one of tiny, tiny-8kv, small/],
      [['--launch', 'pd', '--num-prompts', '0'], /--num-prompts must be a positive integer \(got "0"\)/],
      [['--launch', 'pd', '--input-len', '9-3'], /--input-len must be N or MIN-MAX with MIN <= MAX/],
      [['--launch', 'pd', '--request-rate', 'fast'], /--request-rate must be a positive number of requests per second, or inf/],
      [['--launch', 'pd', '--random-range-ratio', '0'], /--random-range-ratio must be a number in \(0, 1\]/],
      [['--launch', 'pd', '--long-fraction', '0.5'], /--long-fraction only applies to --dataset mix/],
      [['--launch', 'pd', '--dataset', 'jsonl'], /--dataset jsonl needs --dataset-path FILE/],
      [['--launch', 'pd', '--dataset', 'jsonl', '--dataset-path', 'f', '--input-len', '3'], /--input-len only applies to --dataset random or mix/],
      [['--launch', 'pd', '--slo-ttft-ms', '-1'], /--slo-ttft-ms/],
      [['--launch', 'pd', '--seed', '1', '--seed', '2'], /--seed was given more than once/],
      [['--launch', 'pd', '--bogus', '1'], /Unknown argument: bogus/],
    ];
    for (const [args, message] of cases) assert.throws(() => parse(args), message, args.join(' '));
  });

  test('the pd-bench process exits 2 on a usage error, naming the flag', () => {
    const r = runPdBench(['serve', '--launch', 'pd', '--max-concurrency', 'many'], 30_000);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /pd-bench: --max-concurrency must be a positive integer \(got "many"\)/);
  });
});
