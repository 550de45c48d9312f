/**
 * perftest's `ib_write_bw` as the verbs reference, when it is on PATH and an RDMA device is usable
 * (the benchmark works without it): the receiving process starts a server on the first device that
 * device selection chooses, the sending process runs the client against it with the same message
 * size, and the average rate is read from its result row.
 *
 * Decisions: `--report_gbits` so the figure is in Gb/s (1e9 bit/s; perftest's MB/s are not SI), one
 * RC queue pair, `-F` (no CPU-frequency check: meaningless in VMs), `-x` the GID index selection
 * prefers (RoCE v2 IPv4-mapped).
 */
import { spawnSync } from 'node:child_process';
import { requireVerbsDevices } from '../../src/transfer/verbs/require-verbs.js';
import { runClient, startOneShotServer } from './reference-tool.js';

/** A perftest run: message size and count. */
export interface IbWriteBwRun {
  size: number;
  iterations: number;
}

const CLIENT_MS = 120_000;

/** The device, port and GID index the verbs backend would use first; throws when none is usable. */
function deviceArgs(): string[] {
  const [choice] = requireVerbsDevices(undefined).chosen;
  return ['-d', choice.port.device, '-i', String(choice.port.port), '-x', String(choice.gid!.index)];
}

export function ibWriteBwAvailable(): boolean {
  // `ib_write_bw --version` prints the version and exits 1: only a failed spawn means it is missing.
  if (spawnSync('ib_write_bw', ['--version'], { stdio: 'ignore' }).error) return false;
  try {
    deviceArgs();
    return true;
  } catch {
    return false;
  }
}

function args(run: IbWriteBwRun, port: number): string[] {
  return [...deviceArgs(), '-F', '--report_gbits', '-s', String(run.size), '-n', String(run.iterations), '-p', String(port)];
}

/** Starts the one-shot server on a free port; resolves with the port once it waits for its client. */
export function startIbWriteBwServer(host: string, run: IbWriteBwRun): Promise<number> {
  return startOneShotServer('ib_write_bw', (port) => args(run, port), host);
}

/** The client against `host:port`: average GB/s (1e9 B/s), or null if it failed. */
export async function runIbWriteBwClient(host: string, port: number, run: IbWriteBwRun): Promise<number | null> {
  const out = await runClient('ib_write_bw', [...args(run, port), host], CLIENT_MS);
  if (out === null) return null;
  // The result row follows the "#bytes ... BW average[Gb/sec] ..." header: bytes, iterations, peak, average, ...
  const lines = out.split('\n');
  const header = lines.findIndex((l) => l.trim().startsWith('#bytes'));
  const row = header >= 0 ? lines[header + 1]?.trim().split(/\s+/) : undefined;
  const gbits = row ? Number(row[3]) : NaN;
  return Number.isFinite(gbits) ? gbits / 8 : null;
}
