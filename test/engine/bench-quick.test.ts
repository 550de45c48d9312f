/**
 * The engine benchmark runs: `node dist/bench/engine.js --quick --rounds 3 --json FILE` exits 0 and
 * writes every figure (matmul GFLOP/s per kernel, native included where it can run, tiny-preset
 * prefill and decode per kernel and batch, same-run comparisons) as a positive finite number; the
 * engine's kernel is measured in 3 rounds, against llama.cpp round by round when node-llama-cpp is
 * installed (each pd-node / llama.cpp comparison has 3 per-round ratios, printed, its ratio within
 * their range), and the run says llama.cpp was skipped and how to install it when it is not; `--help`
 * prints the usage and exits 0, an unknown flag or a bad value exits 2 naming the flag.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nativeSkip } from './engine-harness.js';

const benchScript = join(dirname(fileURLToPath(import.meta.url)), '../../bench/engine.js');

const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Whether node-llama-cpp can be loaded here, as the bench loads it (a variable: not type-checked against it). */
async function llamaCppInstalled(): Promise<boolean> {
  const name = 'node-llama-cpp';
  return import(name).then(() => true, () => false);
}

/** Not the default, so the run proves `--rounds` is honoured. */
const ROUNDS = 3;

/** The kernels the bench measures here: native too where it can run. */
const kernels = nativeSkip ? ['wasm', 'js'] : ['native', 'wasm', 'js'];

test('bench/engine.js --quick writes positive figures for every kernel, the engine\'s kernel in rounds', async () => {
  const withLlamaCpp = await llamaCppInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-'));
  try {
    const file = join(dir, 'bench.json');
    const run = spawnSync(process.execPath, [benchScript, '--quick', '--rounds', String(ROUNDS), '--json', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /WASM matmul f32, 64 row\(s\) .* JS kernel same run/);
    const r = JSON.parse(readFileSync(file, 'utf8')) as {
      rounds: number;
      matmul: { kernel: string; rows: number; gflops: number }[];
      engine: {
        preset: string; kernel: string; phase: string; batch: number; tokens: number; seconds: number; tokensPerSecond: number; gflops: number;
        alternated: boolean; roundTokensPerSecond: number[];
      }[];
      llamaCpp: { dtype: string; threads: number; phase: string; batch: number; tokensPerSecond: number; roundTokensPerSecond: number[] }[];
      comparisons: { what: string; reference: string; measured: number; referenceValue: number; ratio: number; ratioMin?: number; ratioMax?: number; roundRatios?: number[] }[];
    };
    assert.equal(r.rounds, ROUNDS);
    assert.match(run.stdout, new RegExp(`^rounds: ${ROUNDS}; `, 'm'));
    for (const kernel of kernels) {
      for (const rows of [1, 64]) {
        const m = r.matmul.find((x) => x.kernel === kernel && x.rows === rows);
        assert.ok(m && positive(m.gflops), `matmul ${kernel} ${rows} rows: ${JSON.stringify(m)}`);
      }
      for (const [phase, batch] of [['prefill', 1], ['decode', 1], ['decode', 8]] as const) {
        const e = r.engine.find((x) => x.preset === 'tiny' && x.kernel === kernel && x.phase === phase && x.batch === batch);
        assert.ok(e, `missing tiny ${kernel} ${phase} batch ${batch}`);
        for (const key of ['tokens', 'seconds', 'tokensPerSecond', 'gflops'] as const) assert.ok(positive(e[key]), `${kernel} ${phase} ${batch}: ${key} = ${e[key]}`);
        // the engine's kernel (the first listed) in rounds, the others once
        assert.equal(e.alternated, kernel === kernels[0], `${kernel} ${phase} ${batch}`);
        assert.equal(e.roundTokensPerSecond.length, e.alternated ? ROUNDS : 1, `${kernel} ${phase} ${batch}`);
        assert.ok(e.roundTokensPerSecond.every(positive), JSON.stringify(e.roundTokensPerSecond));
      }
    }
    // WASM vs JS matmul at 64 and 1 rows; native vs WASM matmul, f32 and bf16, at 64 and 1 rows
    assert.equal(r.comparisons.filter((c) => / matmul /.test(c.what)).length, nativeSkip ? 2 : 6);
    if (!nativeSkip) assert.match(run.stdout, /native matmul bf16, 64 row\(s\) .* WASM kernel same run/);
    for (const c of r.comparisons) for (const v of Object.values(c)) if (typeof v === 'number') assert.ok(positive(v), JSON.stringify(c));

    if (!withLlamaCpp) {
      assert.match(run.stdout, /llama\.cpp reference skipped: node-llama-cpp is not installed \(npm i --no-save node-llama-cpp@3\.21\.1\)/);
      assert.equal(r.llamaCpp.length, 0);
      return;
    }
    // llama.cpp at tp 1's one thread, f32 and bf16, each phase, paired round by round with the engine's kernel
    assert.equal(r.llamaCpp.length, 2 * 3);
    for (const l of r.llamaCpp) assert.ok(l.roundTokensPerSecond.length === ROUNDS && l.roundTokensPerSecond.every(positive), JSON.stringify(l));
    const inRounds = r.comparisons.filter((c) => c.roundRatios && c.reference.startsWith('llama.cpp'));
    assert.equal(inRounds.length, 2 * 3, JSON.stringify(r.comparisons.map((c) => c.what)));
    assert.match(run.stdout, new RegExp(`^per-round ratios \\(${ROUNDS} rounds`, 'm'));
    for (const c of inRounds) {
      const rr = c.roundRatios as number[];
      assert.ok(rr.length === ROUNDS && rr.every(positive), JSON.stringify(c));
      assert.ok((c.ratioMin as number) <= c.ratio && c.ratio <= (c.ratioMax as number), JSON.stringify(c));
      assert.ok(run.stdout.includes(`  ${c.what}: `), `per-round ratios of ${c.what} not printed`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench/engine.js --help exits 0 with the usage; a bad flag exits 2 naming it', () => {
  const help = spawnSync(process.execPath, [benchScript, '--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: .*--preset tiny\|small\|all/s);
  for (const [args, flag] of [[['--bogus'], /--bogus/], [['--tp', '2'], /--tp/], [['--preset', 'huge'], /--preset/], [['--llama-cpp', 'on'], /--llama-cpp/], [['--rounds', '0'], /--rounds/]] as const) {
    const bad = spawnSync(process.execPath, [benchScript, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, flag);
    assert.equal(bad.stdout, '', `${args.join(' ')} ran the benchmark`);
  }
});
