/**
 * iperf3 as a second tcp reference, when it is on PATH (the benchmark works without it): the
 * receiving process starts a one-shot server, the sending process runs one single-stream client
 * against it and reads the received rate from its JSON. Both are bounded; a failure is reported as a
 * missing figure, never as a benchmark failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { withTimeout } from '../../src/node/timeout.js';
import { listenOnFreePort } from '../../src/transfer/listen-port.js';

export function iperf3Installed(): boolean {
  return spawnSync('iperf3', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts `iperf3 -s -1` on a free port of `host`; resolves with the port once it listens. */
export async function startIperf3Server(host: string): Promise<number> {
  const probe = createServer();
  const port = await listenOnFreePort(probe, host, 5000, 'iperf3 port probe');
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const server = spawn('iperf3', ['-s', '-1', '--forceflush', '-B', host, '-p', String(port)], { stdio: ['ignore', 'pipe', 'ignore'] });
  const listening = new Promise<void>((resolve) => {
    server.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('Server listening')) resolve();
    });
  });
  try {
    await withTimeout(Promise.race([listening, once(server, 'exit').then(() => Promise.reject(new Error('iperf3 -s exited')))]), 5000, 'iperf3 server start');
  } catch (err) {
    server.kill('SIGKILL');
    throw err;
  }
  // one-shot: it exits after one test; the timer makes sure it does
  setTimeout(() => server.kill('SIGKILL'), 60_000).unref();
  return port;
}

/** One single-stream `iperf3 -c` run of `seconds`; GB/s received (1e9 B/s), or null if it failed. */
export async function runIperf3Client(host: string, port: number, seconds: number): Promise<number | null> {
  const client = spawn('iperf3', ['-c', host, '-p', String(port), '-t', String(seconds), '-J'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await withTimeout(once(client, 'exit'), (seconds + 10) * 1000, 'iperf3 client');
    const bits = (JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second;
    return typeof bits === 'number' ? bits / 8 / 1e9 : null;
  } catch {
    client.kill('SIGKILL');
    return null;
  }
}
