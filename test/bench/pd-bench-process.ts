/**
 * `pd-bench` as a real process for the tests: the bin's path, a bounded run, and a run whose
 * `--json` results are read back from a temporary directory that is always removed.
 *
 * Decisions: synchronous (spawnSync): a test waits for the whole run anyway, and the bench stops
 * what it started before it exits. The timeout is a bound against a hang, never asserted; output
 * may be long (progress bars, node logs on failure), so the buffer is large.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PD_BENCH = fileURLToPath(new URL('../../bench/pd-bench.js', import.meta.url));

export interface PdBenchRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runPdBench(args: string[], timeoutMs = 120_000): PdBenchRun {
  return spawnSync(process.execPath, [PD_BENCH, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
}

/** Runs `args` with `--json FILE`; asserts exit status 0 and returns the parsed file and stdout. */
export function runPdBenchJson<T>(args: string[], timeoutMs?: number): { result: T; stdout: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-'));
  try {
    const file = join(dir, 'out.json');
    const run = runPdBench([...args, '--json', file], timeoutMs);
    assert.equal(run.status, 0, run.stderr);
    return { result: JSON.parse(readFileSync(file, 'utf8')) as T, stdout: run.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
