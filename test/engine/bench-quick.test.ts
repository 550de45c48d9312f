/**
 * The engine benchmark runs: `node dist/bench/engine.js --quick --json FILE` exits 0 and writes every
 * figure (matmul GFLOP/s per kernel, tiny-preset prefill and decode per kernel and batch, reference
 * comparisons) as a positive finite number.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const benchScript = join(dirname(fileURLToPath(import.meta.url)), '../../bench/engine.js');

const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;

test('bench/engine.js --quick writes positive figures for both kernels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-'));
  try {
    const file = join(dir, 'bench.json');
    const run = spawnSync(process.execPath, [benchScript, '--quick', '--json', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /WASM SIMD f32x4 22-30 GFLOP\/s/);
    const r = JSON.parse(readFileSync(file, 'utf8')) as {
      matmul: { kernel: string; rows: number; gflops: number }[];
      engine: { preset: string; kernel: string; phase: string; batch: number; tokens: number; seconds: number; tokensPerSecond: number; gflops: number }[];
      comparisons: { measured: number; referenceLow: number; referenceHigh: number; ratioLow: number; ratioHigh: number }[];
    };
    for (const kernel of ['wasm', 'js']) {
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
    assert.equal(r.comparisons.length, 2);
    for (const c of r.comparisons) for (const v of Object.values(c)) if (typeof v === 'number') assert.ok(positive(v), JSON.stringify(c));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
