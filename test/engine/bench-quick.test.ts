/**
 * The engine benchmark runs: `node dist/bench/engine.js --quick --json FILE` exits 0 and writes every
 * figure (matmul GFLOP/s per kernel, native included where it can run, tiny-preset prefill and decode per kernel and batch, same-run
 * comparisons) as a positive finite number; `--help` prints the usage and exits 0, an unknown flag or
 * a bad value exits 2 naming the flag.
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

/** The kernels the bench measures here: native too where it can run. */
const kernels = nativeSkip ? ['wasm', 'js'] : ['native', 'wasm', 'js'];

test('bench/engine.js --quick writes positive figures for every kernel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-'));
  try {
    const file = join(dir, 'bench.json');
    const run = spawnSync(process.execPath, [benchScript, '--quick', '--json', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /WASM matmul f32, 64 row\(s\) .* JS kernel same run/);
    const r = JSON.parse(readFileSync(file, 'utf8')) as {
      matmul: { kernel: string; rows: number; gflops: number }[];
      engine: { preset: string; kernel: string; phase: string; batch: number; tokens: number; seconds: number; tokensPerSecond: number; gflops: number }[];
      comparisons: { measured: number; referenceValue: number; ratio: number }[];
    };
    for (const kernel of kernels) {
      for (const rows of [1, 64]) {
        const m = r.matmul.find((x) => x.kernel === kernel && x.rows === rows);
        assert.ok(m && positive(m.gflops), `matmul ${kernel} ${rows} rows: ${JSON.stringify(m)}`);
      }
      for (const [phase, batch] of [['prefill', 1], ['decode', 1], ['decode', 8]] as const) {
        const e = r.engine.find((x) => x.preset === 'tiny' && x.kernel === kernel && x.phase === phase && x.batch === batch);
        assert.ok(e, `missing tiny ${kernel} ${phase} batch ${batch}`);
        for (const key of ['tokens', 'seconds', 'tokensPerSecond', 'gflops'] as const) assert.ok(positive(e[key]), `${kernel} ${phase} ${batch}: ${key} = ${e[key]}`);
      }
    }
    // WASM vs JS matmul at 64 and 1 rows; native vs WASM matmul, f32 and bf16, at 64 and 1 rows
    assert.equal(r.comparisons.length, nativeSkip ? 2 : 6);
    if (!nativeSkip) assert.match(run.stdout, /native matmul bf16, 64 row\(s\) .* WASM kernel same run/);
    for (const c of r.comparisons) for (const v of Object.values(c)) if (typeof v === 'number') assert.ok(positive(v), JSON.stringify(c));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench/engine.js --help exits 0 with the usage; a bad flag exits 2 naming it', () => {
  const help = spawnSync(process.execPath, [benchScript, '--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: .*--preset tiny\|small\|all/s);
  for (const [args, flag] of [[['--bogus'], /--bogus/], [['--tp', '2'], /--tp/], [['--preset', 'huge'], /--preset/], [['--llama-cpp', 'on'], /--llama-cpp/]] as const) {
    const bad = spawnSync(process.execPath, [benchScript, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.match(bad.stderr, flag);
    assert.equal(bad.stdout, '', `${args.join(' ')} ran the benchmark`);
  }
});
