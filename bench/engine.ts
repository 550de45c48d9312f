/**
 * Reference engine benchmark, random in-memory weights (no model files):
 *   node dist/bench/engine.js [--quick] [--preset tiny|small|all] [--tp 1,2] [--skip-js] [--llama-cpp auto|off] [--rounds N] [--json FILE]
 *
 * Measures, for the native (where it can run), WASM SIMD and JS kernels: prefill of a 512-token
 * prompt, decode at batch 1 and batch 8 (each sequence first prefilled with 128 tokens, untimed), and
 * a raw matmul micro-benchmark; the `--tp` counts run on the native kernel (the WASM one where native
 * cannot run), with f32 and with bf16 weights. Every reference is measured in the same run: the JS
 * kernel for the WASM matmul, the WASM kernel for the native matmul, tp 1 for each `--tp` count
 * besides 1 (same weights), and llama.cpp on the GGUF of the same weights, at the same dtype and with
 * as many threads as ranks, when node-llama-cpp is installed (llama-cpp.ts); each row prints
 * measured / reference.
 * The engine's kernel and llama.cpp are measured in alternated rounds (rounds.ts: this VM's memory
 * bandwidth swings by up to 1.6 x within minutes, so two phases minutes apart compare the VM, not the
 * engines); the other kernels once, after the rounds (their rows are the predecessors' and fallback's,
 * and rounds would multiply the JS kernel's minutes).
 * `--skip-js` leaves out the JS kernel's engine runs. `--quick` runs the tiny preset with few tokens
 * (seconds; used by a test). `--help` prints the usage; a bad flag exits 2 naming it.
 *
 * FLOPs are counted as 2 per multiply-add, over the matmuls (Q, K, V, O, gate, up, down per token and
 * layer; lm_head per row whose logits are computed) plus attention (Q.K and weights.V: 2 * 2 * headDim
 * per query head and attended position); norms, RoPE, softmax and SiLU are not counted.
 *
 * Decisions: the pool is made by createWasmKvPool (the WASM attention reads K/V in place); every timed
 * phase follows an untimed warm-up so V8 has tiered the kernels up (WASM Liftoff to TurboFan, JS to
 * optimized code); decode contexts are prefilled untimed by the first engine (identical K/V), and decode
 * runs a fixed number of steps per kernel, so the JS kernel on the `small` shape takes about 1.5 min.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ReferenceEngine } from '../src/engine/reference/llama-engine.js';
import { JsKernels } from '../src/engine/reference/kernels/js-kernels.js';
import type { KernelKind, Kernels } from '../src/engine/reference/kernels/kernels.js';
import { createWasmKvPool, WasmArena } from '../src/engine/reference/kernels/wasm-arena.js';
import { WasmKernels } from '../src/engine/reference/kernels/wasm-kernels.js';
import { nativeKernelProblem } from '../src/engine/reference/kernels/native-library.js';
import { NativeKernels } from '../src/engine/reference/kernels/native-kernels.js';
import { gqaLayout } from '../src/kv/layout.js';
import type { WeightStorage } from '../src/engine/reference/kernels/weight-storage.js';
import { bf16ToF32, f32ToBf16 } from '../src/model/half-float.js';
import type { LlamaConfig, ModelWeights } from '../src/model/types.js';
import { item, prng, randomTokens, randomWeights, tinyConfig } from '../test/engine/random-model.js';
import { writeGguf, type GgufDtype } from '../src/model/gguf-writer.js';
import { LLAMA_CPP_PACKAGE, LlamaCpp, LlamaCppRunner, loadLlamaCpp, type Model, type NodeLlamaCpp } from './llama-cpp.js';
import { ROUNDS, sidesInOrder, summarizeRounds, type RoundsSummary } from './rounds.js';
import { median } from './stats.js';
import { formatMachine, machineDuringRun } from './machine.js';

const PAGE_SIZE = 16;
/** Tokens of the untimed prefill (each engine's, and llama.cpp's) that lets the first timed one skip first-use costs (V8 tiering the kernels up). */
const WARMUP_PROMPT = 32;
/**
 * Untimed decode steps before the timed ones: the first engine run pays for V8 optimising the shared
 * JS of a decode step (norms, RoPE, the shard's loop); with one warm-up step the first run's decode b1
 * came out ~0.6 x the same engine measured after another (27 against 47-52 tok/s).
 */
const DECODE_WARMUP_STEPS = 4;
/**
 * Timed prefills per engine (and per llama.cpp configuration), each of a fresh prompt; the median is
 * reported. One prefill of `small` is about a second, and a single one moved 20 % between runs.
 */
const PREFILL_RUNS = 3;

interface Preset {
  name: 'tiny' | 'small';
  config: LlamaConfig;
  prompt: number;
  decodeContext: number;
  decodeSteps: Record<KernelKind, number>;
}

const TINY = tinyConfig({ vocabSize: 512, maxPositionEmbeddings: 4096 });
/** SmolLM2-135M shape. */
const SMALL: LlamaConfig = {
  ...TINY,
  vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64,
  maxPositionEmbeddings: 8192, ropeTheta: 100000, tieWordEmbeddings: true,
};

/** The presets to run; `which` is tiny, small or all (checked by parseOptions). */
function presets(quick: boolean, which: string): Preset[] {
  if (quick) return [{ name: 'tiny', config: TINY, prompt: 64, decodeContext: 16, decodeSteps: { native: 4, wasm: 4, js: 4 } }];
  const all: Preset[] = [
    { name: 'tiny', config: TINY, prompt: 512, decodeContext: 128, decodeSteps: { native: 32, wasm: 32, js: 32 } },
    { name: 'small', config: SMALL, prompt: 512, decodeContext: 128, decodeSteps: { native: 16, wasm: 16, js: 3 } },
  ];
  return all.filter((p) => which === 'all' || p.name === which);
}

/** FLOPs of the matmuls of one token through every layer (without lm_head). */
function layerMatmulFlops(c: LlamaConfig): number {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  return 2 * c.numLayers * c.hiddenSize * (q + 2 * kv + q + 3 * c.intermediateSize);
}

/** FLOPs of one token attending over `positions` positions in every layer. */
function attentionFlops(c: LlamaConfig, positions: number): number {
  return c.numLayers * c.numHeads * 4 * c.headDim * positions;
}

interface EngineResult {
  preset: string;
  kernel: KernelKind;
  tp: number;
  /** How the weights were stored in kernel memory. */
  weightDtype: string;
  phase: 'prefill' | 'decode';
  batch: number;
  /** Tokens processed in the timed part. */
  tokens: number;
  seconds: number;
  /** Median over rounds (or the one measurement of a kernel run once). */
  tokensPerSecond: number;
  gflops: number;
  /** Measured in the alternated rounds (the engine's kernel) or once after them (the others). */
  alternated: boolean;
  /** tok/s of each round, in round order (one entry when measured once). */
  roundTokensPerSecond: number[];
}

/** `a` rounded to bf16 in place (values stay f32 arrays; a bf16 checkpoint loads as exactly this). */
function toBf16Exact(a: Float32Array): Float32Array {
  const bits = new Uint16Array(a.length);
  f32ToBf16(a, bits);
  bf16ToF32(bits, a);
  return a;
}

function bf16Weights(w: ModelWeights): ModelWeights {
  for (const l of w.layers) for (const m of [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]) toBf16Exact(m);
  toBf16Exact(w.embed);
  if (w.lmHead !== w.embed) toBf16Exact(w.lmHead);
  return w;
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

/** The timed phases, in the order a round measures them. */
const PHASES: readonly { phase: 'prefill' | 'decode'; batch: number }[] = [{ phase: 'prefill', batch: 1 }, { phase: 'decode', batch: 1 }, { phase: 'decode', batch: 8 }];
type Phase = (typeof PHASES)[number];
const DECODE_BATCHES = [1, 8];

interface EngineRun {
  kernel: KernelKind;
  tp: number;
  storage: WeightStorage;
}

/**
 * Prefill and decode figures of every kernel on preset `p`, and of llama.cpp on the same weights
 * when `lib` is given. The engine's kernel (native where it can run, else WASM) runs at every `--tp`
 * count with f32 and with bf16 weights, each configuration paired with llama.cpp at the same weight
 * dtype and as many threads as ranks; the pairs are measured in `rounds` alternated rounds
 * (rounds.ts), every engine and llama.cpp context made once before the first round. The other
 * kernels (WASM beside native, JS) are measured once after the rounds. The engines share one pool (in
 * WASM memory, so the native and WASM attention read it in place; the JS kernel reads any pool); the
 * untimed decode contexts are prefilled by the first engine, which writes the same K/V bytes as every
 * other kernel would.
 */
async function benchPreset(
  p: Preset, weights: ModelWeights, tps: readonly number[], js: boolean, native: boolean, lib: NodeLlamaCpp | null, rounds: number,
): Promise<{ engine: EngineResult[]; llamaCpp: LlamaCppResult[] }> {
  const c = p.config;
  const pagesFor = (tokens: number): number => Math.ceil(tokens / PAGE_SIZE);
  const seqTokens = (kernel: KernelKind): number => p.decodeContext + p.decodeSteps[kernel] + DECODE_WARMUP_STEPS;
  const roundKernel: KernelKind = native ? 'native' : 'wasm';
  const roundRuns: EngineRun[] = tps.flatMap((tp) => (['f32', 'narrowest'] as const).map((storage) => ({ kernel: roundKernel, tp, storage })));
  // the WASM kernel (the native kernel's predecessor and fallback) beside native, and the JS kernel: once, not alternated
  const onceRuns: EngineRun[] = [
    ...(native ? [{ kernel: 'wasm' as const, tp: 1, storage: 'f32' as const }, { kernel: 'wasm' as const, tp: 1, storage: 'narrowest' as const }] : []),
    ...(js ? [{ kernel: 'js' as const, tp: 1, storage: 'f32' as const }] : []),
  ];
  const runs = [...roundRuns, ...onceRuns];
  const numPages = runs.reduce((n, r) => n + pagesFor(WARMUP_PROMPT) + pagesFor(p.prompt) + DECODE_BATCHES.reduce((s, b) => s + b, 0) * pagesFor(seqTokens(r.kernel)), 0);
  const pool = createWasmKvPool(gqaLayout(c.numLayers, c.numKvHeads, c.headDim, 'float32', PAGE_SIZE), numPages);
  const engines = runs.map((r) => ({ ...r, engine: new ReferenceEngine(c, weights, pool, { kernel: r.kernel, tp: r.tp, weightStorage: r.storage }) }));
  // every engine's weights are in the pool's memory: the last WASM or native engine's report covers them all
  const huge = engines.map((e) => e.engine.hugePages).filter((h) => h !== null).pop();
  if (huge) console.log(`${p.name}: kernel memory on transparent huge pages: ${(huge.grantedBytes / 1e6).toFixed(0)} of ${(huge.memoryBytes / 1e6).toFixed(0)} MB (${huge.advice ?? 'advised by its owner'})`);
  const filler = engines[0].engine;
  let nextPage = 0;
  const pageTable = (tokens: number): Int32Array => Int32Array.from({ length: pagesFor(tokens) }, () => nextPage++);
  const rand = prng(5);
  let prefillFlops = p.prompt * layerMatmulFlops(c) + 2 * c.vocabSize * c.hiddenSize;
  for (let pos = 0; pos < p.prompt; pos++) prefillFlops += attentionFlops(c, pos + 1);
  const tokensOf = (kernel: KernelKind, ph: Phase): number => (ph.phase === 'prefill' ? p.prompt : ph.batch * p.decodeSteps[kernel]);
  const flopsOf = (kernel: KernelKind, ph: Phase): number => {
    if (ph.phase === 'prefill') return prefillFlops;
    let flops = 0;
    const start = p.decodeContext + DECODE_WARMUP_STEPS; // the position of the first timed step
    for (let i = 0; i < p.decodeSteps[kernel]; i++) flops += ph.batch * (layerMatmulFlops(c) + 2 * c.vocabSize * c.hiddenSize + attentionFlops(c, start + i + 1));
    return flops;
  };

  /**
   * The engine warmed up, and its measurement of a phase in tok/s: prefill, the median of
   * PREFILL_RUNS fresh prompts; decode, DECODE_WARMUP_STEPS untimed steps then the timed ones. Every
   * call writes the same pages: more pages would move the engines' memory against the huge pages granted.
   */
  const measurer = (engine: ReferenceEngine, kernel: KernelKind): ((ph: Phase) => number) => {
    engine.forward([item(randomTokens(rand, WARMUP_PROMPT, c.vocabSize), 0, pageTable(WARMUP_PROMPT))]);
    const promptPages = pageTable(p.prompt);
    const decodeTables = new Map(DECODE_BATCHES.map((b) => [b, Array.from({ length: b }, () => pageTable(seqTokens(kernel)))]));
    const steps = p.decodeSteps[kernel];
    return (ph) => {
      if (ph.phase === 'prefill') {
        return p.prompt / median(Array.from({ length: PREFILL_RUNS }, () => {
          const prompt = item(randomTokens(rand, p.prompt, c.vocabSize), 0, promptPages);
          return timed(() => engine.forward([prompt]));
        }));
      }
      const seqs = (decodeTables.get(ph.batch) as Int32Array[]).map((table) => ({ table, pos: p.decodeContext }));
      filler.forward(seqs.map((s) => item(randomTokens(rand, p.decodeContext, c.vocabSize), 0, s.table, 'none')));
      const step = (): void => {
        engine.forward(seqs.map((s) => item(randomTokens(rand, 1, c.vocabSize), s.pos++, s.table)));
      };
      for (let i = 0; i < DECODE_WARMUP_STEPS; i++) step();
      return (ph.batch * steps) / timed(() => {
        for (let i = 0; i < steps; i++) step();
      });
    };
  };
  const engineResult = (e: (typeof engines)[number], ph: Phase, roundTokensPerSecond: number[], alternated: boolean): EngineResult => {
    const tokens = tokensOf(e.kernel, ph);
    const tokensPerSecond = median(roundTokensPerSecond);
    const seconds = tokens / tokensPerSecond;
    return {
      preset: p.name, kernel: e.kernel, tp: e.tp, weightDtype: e.engine.weightDtypes.join('+'), phase: ph.phase, batch: ph.batch, tokens, seconds,
      tokensPerSecond, gflops: flopsOf(e.kernel, ph) / seconds / 1e9, alternated, roundTokensPerSecond,
    };
  };

  const out: EngineResult[] = [];
  const llamaOut: LlamaCppResult[] = [];
  const llama = lib ? await LlamaCpp.open(lib) : null;
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-gguf-'));
  const runners: LlamaCppRunner[] = [];
  try {
    const models = new Map<GgufDtype, Model>();
    const llamaTokens = (n: number): number[] => Array.from(randomTokens(rand, n, c.vocabSize));
    const paired = [];
    for (const e of engines.slice(0, roundRuns.length)) {
      const weightDtype = e.engine.weightDtypes.join('+');
      const dtype: GgufDtype | null = weightDtype === 'f32' || weightDtype === 'bf16' ? weightDtype : null;
      let theirs: ((ph: Phase) => Promise<number>) | null = null;
      if (llama && dtype) {
        let model = models.get(dtype);
        if (!model) {
          const path = join(dir, `${p.name}-${dtype}.gguf`);
          writeGguf(path, c, weights, dtype, `pd-bench ${p.name}`);
          model = await llama.loadModel(path);
          models.set(dtype, model);
        }
        const prompt = llamaTokens(p.prompt);
        const contexts = Array.from({ length: Math.max(...DECODE_BATCHES) }, () => llamaTokens(p.decodeContext));
        const shape = { promptTokens: p.prompt, contextTokens: p.decodeContext, steps: p.decodeSteps[e.kernel], batches: DECODE_BATCHES, threads: e.tp };
        const runner = await LlamaCppRunner.open(model, shape, prompt.slice(0, WARMUP_PROMPT));
        runners.push(runner);
        theirs = async (ph) => (ph.phase === 'prefill' ? p.prompt / median(await runner.prefillSeconds(prompt, PREFILL_RUNS)) : runner.decodeTokensPerSecond(contexts.slice(0, ph.batch)));
      }
      paired.push({ e, dtype, ours: measurer(e.engine, e.kernel), theirs, ourRounds: PHASES.map((): number[] => []), theirRounds: PHASES.map((): number[] => []) });
    }
    for (let round = 0; round < rounds; round++) {
      for (const pair of paired) {
        for (const [i, ph] of PHASES.entries()) {
          const ours = async (): Promise<void> => {
            pair.ourRounds[i].push(pair.ours(ph));
          };
          const theirs = async (): Promise<void> => {
            if (pair.theirs) pair.theirRounds[i].push(await pair.theirs(ph));
          };
          for (const side of sidesInOrder(round, ours, theirs)) await side();
        }
      }
    }
    for (const pair of paired) {
      for (const [i, ph] of PHASES.entries()) {
        out.push(engineResult(pair.e, ph, pair.ourRounds[i], true));
        if (pair.theirs && pair.dtype) {
          const roundTokensPerSecond = pair.theirRounds[i];
          llamaOut.push({ preset: p.name, dtype: pair.dtype, threads: pair.e.tp, phase: ph.phase, batch: ph.batch, tokensPerSecond: median(roundTokensPerSecond), roundTokensPerSecond });
        }
      }
    }
    for (const e of engines.slice(roundRuns.length)) {
      const ours = measurer(e.engine, e.kernel);
      for (const ph of PHASES) out.push(engineResult(e, ph, [ours(ph)], false));
    }
  } finally {
    for (const r of runners) await r.dispose();
    await llama?.dispose();
    rmSync(dir, { recursive: true, force: true });
    for (const { engine } of engines) engine.close();
  }
  return { engine: out, llamaCpp: llamaOut };
}

interface MatmulResult {
  kernel: KernelKind;
  /** Weight storage. */
  dtype: string;
  out: number;
  in: number;
  rows: number;
  gflops: number;
}

/**
 * GFLOP/s of y = W x for W [1536, 576] (the `small` gate/up shape) over `rows` activation rows, from
 * the median time of the calls made in `minSeconds` (robust to other processes sharing the cores).
 */
function benchMatmul(k: Kernels, rows: number, minSeconds: number, dtype: 'f32' | 'bf16'): MatmulResult {
  const [nOut, n] = [1536, 576];
  const rand = prng(9);
  const fill = (len: number): Float32Array => k.adopt(Float32Array.from({ length: len }, () => rand() - 0.5));
  const w = k.adoptWeights(dtype === 'bf16' ? toBf16Exact(fill(nOut * n)) : fill(nOut * n), 'narrowest', nOut);
  const x = fill(rows * n);
  const y = k.alloc(nOut * rows);
  for (let i = 0; i < 3; i++) k.matmul(w, x, y, nOut, rows, n); // warm-up
  const times: number[] = [];
  const end = performance.now() + minSeconds * 1000;
  while (performance.now() < end || times.length < 3) times.push(timed(() => k.matmul(w, x, y, nOut, rows, n)));
  return { kernel: k.kind, dtype: w.dtype, out: nOut, in: n, rows, gflops: (2 * nOut * n * rows) / median(times) / 1e9 };
}

interface Comparison {
  what: string;
  measured: number;
  unit: string;
  /** The reference, measured in the same run. */
  reference: string;
  referenceValue: number;
  /** measured / referenceValue; for a comparison in rounds, the median of the per-round ratios. */
  ratio: number;
  /** For a comparison in rounds: the range and the list of the per-round ratios. */
  ratioMin?: number;
  ratioMax?: number;
  roundRatios?: number[];
}

function compare(what: string, measured: number, unit: string, reference: string, referenceValue: number): Comparison {
  return { what, measured, unit, reference, referenceValue, ratio: measured / referenceValue };
}

/** A comparison measured in alternated rounds; `reference` names the reference, its median is appended. */
function compareRounds(what: string, unit: string, reference: string, s: RoundsSummary): Comparison {
  const { measured, ratio, ratioMin, ratioMax, roundRatios } = s;
  return { what, measured, unit, reference: `${reference} ${s.reference.toFixed(1)} ${unit}`, referenceValue: s.reference, ratio, ratioMin, ratioMax, roundRatios };
}

interface LlamaCppResult {
  preset: string;
  dtype: GgufDtype;
  threads: number;
  phase: 'prefill' | 'decode';
  batch: number;
  /** Median over rounds. */
  tokensPerSecond: number;
  /** tok/s of each round, each measured back to back with pd-node's engine's. */
  roundTokensPerSecond: number[];
}

const USAGE = `usage: node dist/bench/engine.js [options]   (or: npm run bench -- [options])
  --preset tiny|small|all   model shape(s) to run (default all; small is SmolLM2-135M's shape)
  --tp LIST                 comma-separated --tp rank counts, including 1 (default 1)
  --skip-js                 leave out the JS kernel's engine runs (minutes on small)
  --llama-cpp auto|off      llama.cpp on the same weights when node-llama-cpp is installed (default auto)
  --rounds N                alternated rounds of the engine against llama.cpp (default ${ROUNDS})
  --json FILE               also write every figure as JSON
  --quick                   tiny preset, few tokens (seconds)
  --help                    this text
`;

/** A bad command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

interface Options {
  quick: boolean;
  preset: string;
  tps: number[];
  skipJs: boolean;
  llamaCpp: boolean;
  rounds: number;
  json: string | undefined;
}

/** The options, or null after printing the usage for --help. */
function parseOptions(args: string[]): Options | null {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        quick: { type: 'boolean', default: false }, preset: { type: 'string', default: 'all' }, tp: { type: 'string', default: '1' },
        'skip-js': { type: 'boolean', default: false }, 'llama-cpp': { type: 'string', default: 'auto' }, json: { type: 'string' },
        rounds: { type: 'string', default: String(ROUNDS) },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message); // names the flag ("Unknown option '--x'", "Option '--tp <value>' argument missing")
  }
  if (values.help) return null;
  const tps = values.tp.split(',').map(Number);
  if (!tps.includes(1) || tps.some((t) => !Number.isInteger(t) || t < 1)) throw new UsageError(`--tp must be a comma-separated list of rank counts including 1 (got "${values.tp}")`);
  if (!['tiny', 'small', 'all'].includes(values.preset)) throw new UsageError(`--preset must be tiny, small or all (got "${values.preset}")`);
  if (!['auto', 'off'].includes(values['llama-cpp'])) throw new UsageError(`--llama-cpp must be auto or off (got "${values['llama-cpp']}")`);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds must be a positive integer (got "${values.rounds}")`);
  return { quick: values.quick, preset: values.preset, tps, skipJs: values['skip-js'], llamaCpp: values['llama-cpp'] === 'auto', rounds, json: values.json };
}

async function main(): Promise<void> {
  const machine = machineDuringRun();
  let options: Options | null;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`engine bench: ${err.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (options === null) {
    process.stdout.write(USAGE);
    return;
  }
  const { quick, tps } = options;
  const minSeconds = quick ? 0.05 : 1;
  const matmul: MatmulResult[] = [];
  const nativeProblem = nativeKernelProblem();
  if (nativeProblem !== null) console.log(`native kernel skipped: ${nativeProblem.reason}`);
  for (const rows of [64, 1]) {
    const arena = new WasmArena();
    const kernels: Kernels[] = [...(nativeProblem === null ? [new NativeKernels(arena)] : []), new WasmKernels(arena)];
    for (const k of kernels) for (const dtype of ['f32', 'bf16'] as const) matmul.push(benchMatmul(k, rows, minSeconds, dtype));
    matmul.push(benchMatmul(new JsKernels(), rows, minSeconds, 'f32'));
  }
  const engine: EngineResult[] = [];
  const llamaCpp: LlamaCppResult[] = [];
  const lib = options.llamaCpp ? await loadLlamaCpp() : null;
  if (options.llamaCpp && !lib) console.log(`llama.cpp reference skipped: node-llama-cpp is not installed (npm i --no-save ${LLAMA_CPP_PACKAGE})`);
  for (const p of presets(quick, options.preset)) {
    const weights = bf16Weights(randomWeights(p.config, 1));
    const r = await benchPreset(p, weights, tps, !options.skipJs, nativeProblem === null, lib, options.rounds);
    engine.push(...r.engine);
    llamaCpp.push(...r.llamaCpp);
  }

  const mm = (kernel: KernelKind, rows: number, dtype = 'f32'): MatmulResult | undefined => matmul.find((m) => m.kernel === kernel && m.rows === rows && m.dtype === dtype);
  const comparisons = [
    ...[64, 1].map((rows) => {
      const [wasm, js] = [mm('wasm', rows) as MatmulResult, mm('js', rows) as MatmulResult];
      return compare(`WASM matmul f32, ${rows} row(s)`, wasm.gflops, 'GFLOP/s', `JS kernel same run ${js.gflops.toPrecision(3)} GFLOP/s`, js.gflops);
    }),
    ...[64, 1].flatMap((rows) => (['f32', 'bf16'] as const).flatMap((dtype) => {
      const [native, wasm] = [mm('native', rows, dtype), mm('wasm', rows, dtype) as MatmulResult];
      return native ? [compare(`native matmul ${dtype}, ${rows} row(s)`, native.gflops, 'GFLOP/s', `WASM kernel same run ${wasm.gflops.toPrecision(3)} GFLOP/s`, wasm.gflops)] : [];
    })),
    // tp N against tp 1: both measured in the same rounds
    ...engine
      .filter((e) => e.tp > 1)
      .map((e) => {
        const one = engine.find((o) => o.tp === 1 && o.kernel === e.kernel && o.weightDtype === e.weightDtype && o.preset === e.preset && o.phase === e.phase && o.batch === e.batch) as EngineResult;
        const what = `${e.preset} ${e.weightDtype} ${e.phase}${e.phase === 'decode' ? ` batch ${e.batch}` : ''}, tp ${e.tp}`;
        return compareRounds(what, 'tok/s', 'tp 1 same rounds', summarizeRounds(e.roundTokensPerSecond, one.roundTokensPerSecond));
      }),
    // pd-node (each kernel run at this tp, weights stored as dtype) against llama.cpp (same weights as dtype GGUF, N threads):
    // per round for the engine's kernel, against llama.cpp's median for a kernel measured once
    ...llamaCpp.flatMap((l) => {
      const es = engine.filter((o) => o.kernel !== 'js' && o.tp === l.threads && o.weightDtype === l.dtype && o.preset === l.preset && o.phase === l.phase && o.batch === l.batch);
      return es.map((e) => {
        const what = `${l.preset} ${e.kernel} ${l.dtype}${l.threads > 1 ? ` tp ${l.threads}` : ''} ${l.phase}${l.phase === 'decode' ? ` batch ${l.batch}` : ''}`;
        const reference = `llama.cpp ${l.dtype}, ${l.threads} thread(s)`;
        return e.alternated
          ? compareRounds(what, 'tok/s', `${reference}, same rounds:`, summarizeRounds(e.roundTokensPerSecond, l.roundTokensPerSecond))
          : compare(what, e.tokensPerSecond, 'tok/s', `${reference}, rounds' median (this kernel run once, after): ${l.tokensPerSecond.toFixed(1)} tok/s`, l.tokensPerSecond);
      });
    }),
  ];

  const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toPrecision(3));
  const rows: string[][] = [['what', 'measured', 'GFLOP/s', 'reference', 'ratio']];
  for (const m of matmul) rows.push([`matmul ${m.kernel} ${m.dtype} [${m.out}x${m.in}] x ${m.rows} rows`, '', fmt(m.gflops), '', '']);
  for (const e of engine) {
    const what = `${e.preset} ${e.kernel} ${e.weightDtype}${e.tp > 1 ? ` tp ${e.tp}` : ''} ${e.phase}${e.phase === 'decode' ? ` batch ${e.batch}` : ` ${e.tokens} tokens`}`;
    rows.push([what, `${fmt(e.tokensPerSecond)} tok/s`, fmt(e.gflops), '', '']);
  }
  for (const l of llamaCpp) {
    rows.push([`${l.preset} llama.cpp ${l.dtype} ${l.threads} thread(s) ${l.phase}${l.phase === 'decode' ? ` batch ${l.batch}` : ''}`, `${fmt(l.tokensPerSecond)} tok/s`, '', '', '']);
  }
  for (const c of comparisons) {
    const ratio = c.roundRatios ? `${fmt(c.ratio)} (${fmt(c.ratioMin as number)}-${fmt(c.ratioMax as number)})` : fmt(c.ratio);
    rows.push([c.what, `${fmt(c.measured)} ${c.unit}`, '', c.reference, ratio]);
  }
  const m = machine();
  process.stdout.write(formatMachine(m));
  const once = [...(nativeProblem === null ? ['WASM'] : []), ...(options.skipJs ? [] : ['JS'])];
  console.log(
    `rounds: ${options.rounds}; the ${nativeProblem === null ? 'native' : 'WASM'} kernel's rows${lib ? ' and llama.cpp\'s' : ''} are medians over rounds that alternate the phases ` +
      '(per phase, one side then the other back to back; the side that goes first flips each round); a ratio in rounds is the median of the per-round ratios (min-max)' +
      (once.length > 0 ? `; the ${once.join(' and ')} kernel rows are measured once, after the rounds (not alternated)` : ''),
  );
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
  const inRounds = comparisons.filter((c) => c.roundRatios);
  if (inRounds.length > 0) console.log(`per-round ratios (${options.rounds} rounds, in round order):`);
  for (const c of inRounds) console.log(`  ${c.what}: ${(c.roundRatios as number[]).map(fmt).join(' ')}`);

  if (options.json) writeFileSync(options.json, JSON.stringify({ machine: m, quick, rounds: options.rounds, matmul, engine, llamaCpp, comparisons }, null, 2));
}

await main();
