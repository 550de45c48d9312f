/**
 * `pd-bench transfer --pin-main`: the event-loop delay the main threads would see with a core of
 * their own. On a 2-core machine the sending process's issuing and copying threads and the
 * receiver's take both cores, so an idle main thread's timer waits for one; this puts both processes'
 * main threads alone on the first CPU this process may use and every other thread of theirs on the
 * rest (taskset), which is what a host with a spare core gives them.
 *
 * Decisions:
 * - Pinned after each backend's workers started (a thread inherits its creator's CPUs, so workers
 *   made by a pinned main thread would land on its core) and again for every backend.
 * - `taskset -a -p` sets every thread's CPUs, then `taskset -p` the main thread's (its thread id is
 *   the process id). Threads made later by a worker keep the workers' CPUs.
 * - Only the delay figures mean what they say under it: the transfer itself then has one core fewer,
 *   and the baselines run on the main thread's core.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The CPUs a thread may run on, from its status file (e.g. "Cpus_allowed_list: 0-3,8"). */
function allowedCpus(statusPath = '/proc/self/status'): number[] {
  const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(statusPath, 'utf8'));
  if (!line) throw new Error(`--pin-main: ${statusPath} has no Cpus_allowed_list (Linux only)`);
  return line[1].split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

/** Where --pin-main puts threads: read once, before anything is pinned (a pinned main thread reads only its own CPU). */
export interface PinPlan {
  mainCpu: number;
  otherCpus: number[];
}

/** The plan for this machine; throws naming the flag where pinning cannot work (before any process is started). */
export function pinPlan(): PinPlan {
  const [mainCpu, ...otherCpus] = allowedCpus();
  if (otherCpus.length === 0) throw new Error('--pin-main needs at least 2 CPUs (one for the main threads, the rest for the others)');
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    throw new Error('--pin-main needs taskset on PATH (util-linux)');
  }
  return { mainCpu, otherCpus };
}

/** What pinning left, read back from /proc: the report shows it, and a test checks it. */
export interface PinnedProcess {
  pid: number;
  mainCpus: number[];
  /** Every thread but the main one, and the CPUs each may use (all the same when pinned). */
  otherThreads: number;
  otherCpus: number[][];
}

/**
 * The main threads of `pids` alone on the plan's main CPU, all their other threads on the others;
 * read back from /proc, and an error if any thread is not where the plan puts it.
 */
export function pinMainThreads(plan: PinPlan, pids: readonly number[]): PinnedProcess[] {
  return pids.map((pid) => {
    execFileSync('taskset', ['-a', '-p', '-c', plan.otherCpus.join(','), String(pid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-p', '-c', String(plan.mainCpu), String(pid)], { stdio: 'ignore' });
    const others = readdirSync(`/proc/${pid}/task`).filter((tid) => tid !== String(pid));
    const pinned: PinnedProcess = {
      pid,
      mainCpus: allowedCpus(`/proc/${pid}/status`),
      otherThreads: others.length,
      otherCpus: others.map((tid) => allowedCpus(`/proc/${pid}/task/${tid}/status`)),
    };
    const wrong = [pinned.mainCpus, ...pinned.otherCpus].some((cpus, i) => cpus.join(',') !== (i === 0 ? String(plan.mainCpu) : plan.otherCpus.join(',')));
    if (wrong) throw new Error(`--pin-main: process ${pid}'s threads are not where taskset was told to put them: ${JSON.stringify(pinned)}`);
    return pinned;
  });
}
