/**
 * The flags of `pd-bench serve`, validated into a `ServeConfig`. Names follow SGLang's bench_serving
 * where it has the flag (--num-prompts, --request-rate, --max-concurrency, --random-input-len is
 * --input-len here, --random-range-ratio, --dataset-path, --seed, --warmup-requests is --warmup).
 * Decisions:
 * - Every value is parsed from its raw string by the CLI's flag parsers, so an error quotes it back
 *   and names the flag; combinations that mean nothing (--url with --launch, --long-fraction
 *   without --dataset mix, ...) are errors too, not silently ignored.
 * - Target: `--url` (an existing router or node) or `--launch pd|colocated`; `--compare colocated`
 *   runs PD and then a colocated node on the same load (implies `--launch pd`).
 * - Launched nodes get `--model-path` (or the cached `--preset` model) and every `--node-arg`, each
 *   one argv word written with `=` (`--node-arg=--engine=synthetic`) so it cannot be read as a
 *   bench flag; PD nodes also get the transfer backend. No model flag: the nodes' default model.
 * - `--quick` shrinks the defaults (8 prompts of 32 tokens, 8 output tokens, 1 warm-up) for smoke
 *   runs and tests; explicit flags still win.
 */
import type { Argv } from 'yargs';
import { FlagError, nonEmpty, oneOf, positiveInteger } from '../../src/cli/flag-values.js';
import { PRESET_NAMES, type PresetName } from '../../src/model/presets.js';
import { TRANSFER_BACKEND_NAMES } from '../../src/transfer/backends.js';
import { addStringFlags, flagReader, type BenchFlag } from '../bench-flags.js';
import type { LengthRange } from './dataset.js';
import type { Slo } from './goodput.js';
import type { LaunchKind } from './deployment.js';
import { rangeFromRatio, type MixSpec, type RandomSpec } from './random-dataset.js';

export type DatasetConfig = { name: 'random'; spec: RandomSpec } | { name: 'mix'; spec: MixSpec } | { name: 'jsonl'; path: string; tokenizer: string | null };

export type TargetConfig = { kind: 'url'; url: string } | { kind: 'launch'; launch: LaunchKind; compare: boolean; modelPath: string | null; preset: PresetName | null; transferBackend: string; nodeArgs: string[] };

export interface ServeConfig {
  target: TargetConfig;
  dataset: DatasetConfig;
  numPrompts: number;
  warmup: number;
  seed: number;
  /** Requests per second of the Poisson process; Infinity sends all at once. */
  requestRate: number;
  maxConcurrency: number | null;
  slo: Slo;
  requestTimeoutMs: number;
  json: string | null;
  html: string | null;
}

const FLAGS: Readonly<Record<string, BenchFlag>> = {
  url: { describe: 'Benchmark an existing deployment: a PD router or a single node (http://HOST:PORT).' },
  launch: { describe: 'Start the deployment here as processes on this host: pd (router + prefill + decode) or colocated (one node).' },
  compare: { describe: 'colocated: run the same load (same seed, prompts, arrival times) against PD, then against a colocated node, and report both with the ratios.' },
  'model-path': { describe: 'Launched nodes: the model directory.' },
  preset: { describe: `Launched nodes: a generated model preset (${PRESET_NAMES.join(', ')}), cached like the default model.` },
  'transfer-backend': { describe: `Launched PD nodes: --disaggregation-transfer-backend (${TRANSFER_BACKEND_NAMES.join(', ')}).`, default: 'tcp' },
  'node-arg': { describe: 'Launched nodes: one more pd-node argv word, repeatable, written with = (e.g. --node-arg=--chunked-prefill-size=2048 --node-arg=--engine=synthetic).' },
  dataset: { describe: 'random (token ids, --input-len/--output-len), mix (prefill-heavy: --long-fraction of long prompts among short ones decoding) or jsonl (--dataset-path).', default: 'random' },
  'dataset-path': { describe: 'jsonl: a file of ShareGPT conversations or {"prompt", "output_len"} objects, one per line.' },
  tokenizer: { describe: 'jsonl: model directory whose tokenizer counts the gpt turns\' tokens (default: the model the deployment reports).' },
  'num-prompts': { describe: 'Requests measured.', default: '50', quick: '8' },
  'input-len': { describe: 'random/mix: prompt tokens, N or MIN-MAX (short requests in the mix).', default: '256', quick: '32' },
  'output-len': { describe: 'random/mix: output tokens, N or MIN-MAX (short requests in the mix).', default: '64', quick: '8' },
  'random-range-ratio': { describe: 'random/mix: a single N means lengths uniform in [N x ratio, N], as bench_serving.', default: '1' },
  'long-fraction': { describe: 'mix: probability that a request is a long prompt.', default: '0.25' },
  'long-input-len': { describe: 'mix: prompt tokens of long requests, N or MIN-MAX.', default: '1536', quick: '256' },
  'long-output-len': { describe: 'mix: output tokens of long requests, N or MIN-MAX.', default: '2' },
  seed: { describe: 'Seed of the dataset and of the arrival times.', default: '1' },
  'request-rate': { describe: 'Requests per second, Poisson arrivals; inf sends them all at once.', default: 'inf' },
  'max-concurrency': { describe: 'Most requests in flight at once.', absent: 'no limit' },
  warmup: { describe: 'Warm-up requests sent first and left out of every figure.', default: '1' },
  'slo-ttft-ms': { describe: 'Goodput: time-to-first-token objective (ms).' },
  'slo-itl-ms': { describe: 'Goodput: no inter-token gap of the request above this (ms).' },
  'request-timeout-secs': { describe: 'A request not finished after this counts as failed.', default: '300' },
  json: { describe: 'Write the results (figures, series, per-request records) to this JSON file.' },
  html: { describe: 'Write a self-contained HTML report (plots, tables; opens offline) to this file.' },
};

export function addServeFlags<T>(y: Argv<T>): Argv<T> {
  return addStringFlags(y, FLAGS).option('quick', { type: 'boolean', describe: 'Small defaults for a smoke run (see the flags).' }) as Argv<T>;
}

const NUMBER = /^\d+(\.\d+)?$/;

function numberIn(flag: string, raw: string, ok: (v: number) => boolean, what: string): number {
  const v = NUMBER.test(raw) ? Number(raw) : NaN;
  if (!ok(v)) throw new FlagError(`${flag} must be ${what} (got "${raw}")`);
  return v;
}

/** N or MIN-MAX, positive integers. */
function lengthRange(flag: string, raw: string, ratio: number): LengthRange {
  const m = /^(\d+)-(\d+)$/.exec(raw);
  if (!m) return rangeFromRatio(positiveInteger(flag, raw), ratio);
  const range = { min: positiveInteger(flag, m[1]), max: positiveInteger(flag, m[2]) };
  if (range.min > range.max) throw new FlagError(`${flag} must be N or MIN-MAX with MIN <= MAX (got "${raw}")`);
  return range;
}

function nodeArgs(argv: Record<string, unknown>): string[] {
  const raw = argv['node-arg'];
  const words = raw === undefined ? [] : (Array.isArray(raw) ? raw : [raw]).map(String);
  for (const w of words) if (!w.startsWith('-')) throw new FlagError(`--node-arg takes one pd-node flag written with = (e.g. --node-arg=--chunked-prefill-size=2048; got "${w}")`);
  return words;
}

export function serveConfigFrom(argv: Record<string, unknown>): ServeConfig {
  const { given, value } = flagReader(argv, FLAGS);
  const onlyWith = (names: string[], condition: boolean, what: string): void => {
    for (const n of names) if (!condition && given(n) !== undefined) throw new FlagError(`--${n} only applies ${what}`);
  };

  const url = given('url');
  const compare = given('compare');
  if (compare !== undefined) oneOf('--compare', compare, ['colocated'] as const);
  let launch = given('launch') === undefined ? undefined : oneOf('--launch', given('launch')!, ['pd', 'colocated'] as const);
  if (url !== undefined && (launch !== undefined || compare !== undefined)) throw new FlagError('--url benchmarks an existing deployment: it cannot be combined with --launch or --compare');
  if (compare !== undefined) {
    if (launch === 'colocated') throw new FlagError('--compare colocated compares PD with colocated: use it with --launch pd (or alone)');
    launch = 'pd';
  }
  if (url === undefined && launch === undefined) throw new FlagError('name a target: --url URL (an existing deployment), --launch pd|colocated, or --compare colocated');
  const launching = launch !== undefined;
  onlyWith(['model-path', 'preset', 'transfer-backend', 'node-arg'], launching, 'to launched nodes (--launch or --compare)');
  if (given('model-path') !== undefined && given('preset') !== undefined) throw new FlagError('give --model-path or --preset, not both');
  if (url !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(url)) throw new FlagError(`--url must look like http://HOST:PORT (got "${url}")`);
  const target: TargetConfig =
    url !== undefined
      ? { kind: 'url', url: url.replace(/\/$/, '') }
      : {
          kind: 'launch',
          launch: launch!,
          compare: compare !== undefined,
          modelPath: given('model-path') === undefined ? null : nonEmpty('--model-path', given('model-path')!),
          preset: given('preset') === undefined ? null : oneOf('--preset', given('preset')!, PRESET_NAMES),
          transferBackend: oneOf('--transfer-backend', value('transfer-backend'), TRANSFER_BACKEND_NAMES),
          nodeArgs: nodeArgs(argv),
        };

  const name = oneOf('--dataset', value('dataset'), ['random', 'mix', 'jsonl'] as const);
  onlyWith(['dataset-path', 'tokenizer'], name === 'jsonl', 'to --dataset jsonl');
  onlyWith(['input-len', 'output-len', 'random-range-ratio'], name !== 'jsonl', 'to --dataset random or mix');
  onlyWith(['long-fraction', 'long-input-len', 'long-output-len'], name === 'mix', 'to --dataset mix');
  const ratio = numberIn('--random-range-ratio', value('random-range-ratio'), (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  const short: RandomSpec = { input: lengthRange('--input-len', value('input-len'), ratio), output: lengthRange('--output-len', value('output-len'), ratio) };
  let dataset: DatasetConfig;
  if (name === 'jsonl') {
    const path = given('dataset-path');
    if (path === undefined) throw new FlagError('--dataset jsonl needs --dataset-path FILE');
    dataset = { name, path: nonEmpty('--dataset-path', path), tokenizer: given('tokenizer') ?? null };
  } else if (name === 'mix') {
    const long: RandomSpec = { input: lengthRange('--long-input-len', value('long-input-len'), ratio), output: lengthRange('--long-output-len', value('long-output-len'), ratio) };
    dataset = { name, spec: { short, long, longFraction: numberIn('--long-fraction', value('long-fraction'), (v) => v >= 0 && v <= 1, 'a number in [0, 1]') } };
  } else {
    dataset = { name, spec: short };
  }

  const rate = value('request-rate');
  const concurrency = given('max-concurrency');
  const ms = (flag: string): number | null => (given(flag) === undefined ? null : numberIn(`--${flag}`, given(flag)!, (v) => v > 0, 'a positive number of milliseconds'));
  const warmupRaw = value('warmup');
  return {
    target,
    dataset,
    numPrompts: positiveInteger('--num-prompts', value('num-prompts')),
    warmup: warmupRaw === '0' ? 0 : positiveInteger('--warmup', warmupRaw),
    seed: numberIn('--seed', value('seed'), (v) => Number.isSafeInteger(v) && v <= 0xffffffff, 'an integer from 0 to 4294967295'),
    requestRate: rate === 'inf' ? Infinity : numberIn('--request-rate', rate, (v) => v > 0 && Number.isFinite(v), 'a positive number of requests per second, or inf'),
    maxConcurrency: concurrency === undefined ? null : positiveInteger('--max-concurrency', concurrency),
    slo: { ttftMs: ms('slo-ttft-ms'), itlMs: ms('slo-itl-ms') },
    requestTimeoutMs: numberIn('--request-timeout-secs', value('request-timeout-secs'), (v) => v > 0 && v <= 86400, 'a number of seconds in (0, 86400]') * 1000,
    json: given('json') === undefined ? null : nonEmpty('--json', given('json')!),
    html: given('html') === undefined ? null : nonEmpty('--html', given('html')!),
  };
}
