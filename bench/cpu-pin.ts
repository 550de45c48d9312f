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
 * - `pinMainThread` (pd-bench transfer --pin-main) splits one process instead: its main thread
 *   alone on one CPU, every other thread on the others, which is what a host with a spare core
 *   gives an idle main thread. It runs after the process's workers started (they would inherit the
 *   main thread's CPU) and reads the placement back from /proc, failing if any thread is elsewhere;
 *   `checkPinned` reads it again after a measurement, which catches a thread the main thread made
 *   since (a libuv pool thread on first use, say: it would have shared the main thread's CPU).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
      if (existsSync(`/proc/${p}`)) throw new Error(`taskset could not pin process ${p} to CPU ${cpu}: ${(err as Error).message}`);
    }
  }
}

/** Where pinMainThread left a process's threads, read back from /proc. */
export interface PinnedThreads {
  pid: number;
  mainCpus: number[];
  /** The CPUs each thread but the main one may use. */
  otherCpus: number[][];
}

/** The CPUs a thread may run on, from its status file ("Cpus_allowed_list: 0-3,8"); this thread's by default. */
export function allowedCpus(statusPath = '/proc/self/status'): number[] {
  const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(statusPath, 'utf8'));
  if (!line) throw new Error(`${statusPath} has no Cpus_allowed_list`);
  return line[1].split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

/** The main thread of `pid` (its thread id is the process id) alone on `mainCpu`, every other thread on `otherCpus`. */
export function pinMainThread(pid: number, mainCpu: number, otherCpus: readonly number[]): PinnedThreads {
  execFileSync('taskset', ['-a', '-p', '-c', otherCpus.join(','), String(pid)], { stdio: 'ignore', timeout: TASKSET_TIMEOUT_MS });
  execFileSync('taskset', ['-p', '-c', String(mainCpu), String(pid)], { stdio: 'ignore', timeout: TASKSET_TIMEOUT_MS });
  return checkPinned(pid, mainCpu, otherCpus);
}

/** Where `pid`'s threads may run now; fails unless the main thread is alone on `mainCpu` and every other thread on `otherCpus`. */
export function checkPinned(pid: number, mainCpu: number, otherCpus: readonly number[]): PinnedThreads {
  const others = readdirSync(`/proc/${pid}/task`).filter((tid) => tid !== String(pid));
  const pinned: PinnedThreads = {
    pid,
    mainCpus: allowedCpus(`/proc/${pid}/status`),
    otherCpus: others.map((tid) => allowedCpus(`/proc/${pid}/task/${tid}/status`)),
  };
  const misplaced = pinned.mainCpus.join(',') !== String(mainCpu) || pinned.otherCpus.some((cpus) => cpus.join(',') !== otherCpus.join(','));
  if (misplaced) throw new Error(`process ${pid}'s threads are not where taskset was told to put them: ${JSON.stringify(pinned)}`);
  return pinned;
}
