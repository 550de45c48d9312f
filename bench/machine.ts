/**
 * The machine a benchmark ran on, as every report heads its figures: CPU count, Node version and the
 * load average at start and at end (figures are only as good as the machine was quiet).
 */
import { cpus, loadavg } from 'node:os';

export interface Machine {
  cpus: number;
  loadAvgStart: number[];
  loadAvgEnd: number[];
  node: string;
}

/** Call at the start of a run; the returned function, at its end, gives the machine's description. */
export function machineDuringRun(): () => Machine {
  const loadAvgStart = loadavg();
  return () => ({ cpus: cpus().length, loadAvgStart, loadAvgEnd: loadavg(), node: process.version });
}

/** The report's `machine:` line. */
export function formatMachine(m: Machine): string {
  const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  return `machine: ${m.cpus} CPUs, Node ${m.node}, load average ${load(m.loadAvgStart)} at start, ${load(m.loadAvgEnd)} at end\n`;
}
