/**
 * CPU time a process and its descendants used, from Linux's /proc: what a benchmark's server cost per
 * request, whatever else the machine was doing. Decisions:
 * - CPU per request is the figure that holds on a shared, loaded machine, where req/s and latency
 *   mostly measure how often the OS ran the process; both are reported.
 * - /proc/PID/stat's utime + stime (every thread of the process) in USER_HZ ticks, which Linux's
 *   /proc ABI fixes at 100 per second; 10 ms resolution, fine over seconds of load.
 * - Descendants by their parent pid (a `--workers` router's workers, nginx's worker processes), found
 *   by one scan of /proc at each reading. Elsewhere than Linux: null, and reports show no figure.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ, the unit of /proc/PID/stat's times on every architecture. */
const TICKS_PER_SECOND = 100;

interface Stat {
  ppid: number;
  ticks: number;
}

function readStat(pid: string): Stat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null; // exited during the scan
  }
}

/** CPU ms used so far by `pid` and every process below it; null without /proc. */
export function processTreeCpuMs(pid: number): number | null {
  const tree = processTreeStats(pid);
  if (tree === null) return null;
  let ticks = 0;
  for (const stat of tree.values()) ticks += stat.ticks;
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** `pid` and every process below it; null without /proc (or when `pid` is gone). */
export function processTree(pid: number): number[] | null {
  const tree = processTreeStats(pid);
  return tree === null ? null : [...tree.keys()];
}

function processTreeStats(pid: number): Map<number, Stat> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  const stats = new Map<number, Stat>();
  for (const p of pids) {
    const stat = readStat(p);
    if (stat !== null) stats.set(Number(p), stat);
  }
  if (!stats.has(pid)) return null;
  const inTree = new Set([pid]);
  // Parents may have higher pids than their children (pid reuse): repeat until nothing is added.
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, s] of stats) {
      if (!inTree.has(p) && inTree.has(s.ppid)) {
        inTree.add(p);
        grew = true;
      }
    }
  }
  return new Map([...inTree].map((p) => [p, stats.get(p)!]));
}
