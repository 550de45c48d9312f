/**
 * perftest's `ib_write_bw` as the verbs reference, when it is on PATH and an RDMA device is usable
 * (the benchmark works without it): the receiving process starts a server on the first device that
 * device selection chooses, the sending process runs the client against it with the same message
 * size, and the average rate is read from its result row. Both are bounded; a failure is reported
 * as a missing figure, never as a benchmark failure.
 *
 * Decisions: `--report_gbits` so the figure is in Gb/s (1e9 bit/s; perftest's MB/s are not SI), one
 * RC queue pair, `-F` (no CPU-frequency check: meaningless in VMs), `-x` the GID index selection
 * prefers (RoCE v2 IPv4-mapped).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { withTimeout } from '../../src/node/timeout.js';
import { listenOnFreePort } from '../../src/transfer/listen-port.js';
import { requireVerbsDevices } from '../../src/transfer/verbs/require-verbs.js';

/** A perftest run: message size and count. */
export interface IbWriteBwRun {
  size: number;
  iterations: number;
}

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

/** Whether a TCP socket listens on `port` (the kernel's table: perftest's own output is block-buffered in a pipe). */
function isListening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((table) => {
    try {
      return readFileSync(table, 'utf8').split('\n').some((line) => line.includes(hex) && line.trim().split(/\s+/)[3] === '0A');
    } catch {
      return false;
    }
  });
}

async function listening(port: number): Promise<void> {
  while (!isListening(port)) await new Promise((r) => setTimeout(r, 50));
}

/** Starts the one-shot server on a free port; resolves with the port once it waits for its client. */
export async function startIbWriteBwServer(host: string, run: IbWriteBwRun): Promise<number> {
  const probe = createServer();
  const port = await listenOnFreePort(probe, host, 5000, 'ib_write_bw port probe');
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const server = spawn('ib_write_bw', args(run, port), { stdio: 'ignore' });
  try {
    await withTimeout(Promise.race([listening(port), once(server, 'exit').then(() => Promise.reject(new Error('ib_write_bw server exited')))]), 10_000, 'ib_write_bw server start');
  } catch (err) {
    server.kill('SIGKILL');
    throw err;
  }
  setTimeout(() => server.kill('SIGKILL'), 120_000).unref();
  return port;
}

/** The client against `host:port`: average GB/s (1e9 B/s), or null if it failed. */
export async function runIbWriteBwClient(host: string, port: number, run: IbWriteBwRun): Promise<number | null> {
  const client = spawn('ib_write_bw', [...args(run, port), host], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await withTimeout(once(client, 'exit'), 120_000, 'ib_write_bw client');
  } catch {
    client.kill('SIGKILL');
    return null;
  }
  // The result row follows the "#bytes ... BW average[Gb/sec] ..." header: bytes, iterations, peak, average, ...
  const lines = out.split('\n');
  const header = lines.findIndex((l) => l.trim().startsWith('#bytes'));
  const row = header >= 0 ? lines[header + 1]?.trim().split(/\s+/) : undefined;
  const gbits = row ? Number(row[3]) : NaN;
  return Number.isFinite(gbits) ? gbits / 8 : null;
}
