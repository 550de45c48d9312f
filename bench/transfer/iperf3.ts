/**
 * iperf3 as a second tcp reference, when it is on PATH (the benchmark works without it): the
 * receiving process starts a one-shot server, the sending process runs one single-stream client
 * against it and reads the received rate from its JSON.
 */
import { spawnSync } from 'node:child_process';
import { runClient, startOneShotServer } from './reference-tool.js';

export function iperf3Installed(): boolean {
  return spawnSync('iperf3', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts `iperf3 -s -1` on a free port of `host`; resolves with the port once it listens. */
export function startIperf3Server(host: string): Promise<number> {
  return startOneShotServer('iperf3', (port) => ['-s', '-1', '-B', host, '-p', String(port)], host);
}

/** One single-stream `iperf3 -c` run of `seconds`; GB/s received (1e9 B/s), or null if it failed. */
export async function runIperf3Client(host: string, port: number, seconds: number): Promise<number | null> {
  const out = await runClient('iperf3', ['-c', host, '-p', String(port), '-t', String(seconds), '-J'], (seconds + 10) * 1000);
  try {
    const bits = (JSON.parse(out ?? '') as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second;
    return typeof bits === 'number' ? bits / 8 / 1e9 : null;
  } catch {
    return null;
  }
}
