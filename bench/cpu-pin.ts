/**
 * Pinning a benchmark's processes to CPUs with `taskset` (util-linux), so that a proxy under test
 * runs alone on one CPU and the load generator and the upstream nodes on another: on a 2-core
 * machine a closed loop otherwise measures the whole machine (every process competes for both
 * cores), not the proxy. Decisions:
 * - `taskset -a` pins every thread of a process (V8's and libuv's helpers too); threads and processes
 *   made later inherit the affinity of their creator, so the benchmark pins itself before it starts
 *   its worker threads, and pins a proxy's whole process tree (nginx's workers, a router's) again
 *   before each measurement, so a worker forked after the last pin is caught.
 * - Pinning sets where processes may run, not what else runs there: other work on the machine
 *   still shares both CPUs, so the figures to read stay CPU per request and the ratio.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { processTree } from './process-cpu.js';

/** Bound on one `taskset` call (it only makes a system call per thread). */
const TASKSET_TIMEOUT_MS = 5_000;

/** Why pinning cannot be done here, or null when it can (taskset runs and there are two CPUs or more). */
export function pinningUnavailable(): string | null {
  if (availableParallelism() < 2) return 'it needs two CPUs or more';
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore', timeout: TASKSET_TIMEOUT_MS });
  } catch {
    return 'taskset (util-linux) is not on PATH';
  }
  return null;
}

/** Pins every thread of `pid` and of every process below it to `cpu`. */
export function pinProcessTree(pid: number, cpu: number): void {
  for (const p of processTree(pid) ?? [pid]) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(p)], { stdio: 'ignore', timeout: TASKSET_TIMEOUT_MS });
    } catch (err) {
      // A process of the tree that exited since the scan has nothing left to pin.
      if (processTree(p) !== null) throw new Error(`taskset could not pin process ${p} to CPU ${cpu}: ${(err as Error).message}`);
    }
  }
}
