/**
 * Running an outside tool as a reference figure (iperf3, perftest's ib_write_bw): a one-shot server
 * on a free port in the receiving process, a client run to completion in the sending one. Both are
 * bounded; the callers turn any failure into a missing figure, never a benchmark failure.
 *
 * Decisions: the server counts as up once the kernel lists its port as listening (/proc/net/tcp*):
 * these tools' own "listening" lines are block-buffered when stdout is a pipe. That poll stops when
 * the server exits or its start-up time is over (it never outlives the wait).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { withTimeout } from '../../src/util/timeout.js';
import { listenOnFreePort } from '../../src/transfer/listen-port.js';

const START_MS = 10_000;
/** A one-shot server whose client never came is killed after this long. */
const SERVER_LIFETIME_MS = 120_000;

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

/** Resolves once `server` listens on `port`; rejects if it exits or a spawn fails first, or after START_MS. */
async function listening(command: string, server: ChildProcess, port: number): Promise<void> {
  let failure: Error | null = null;
  server.once('error', (err) => (failure = err));
  server.once('exit', () => (failure ??= new Error(`${command} server exited`)));
  const deadline = performance.now() + START_MS;
  while (!isListening(port)) {
    if (failure !== null) throw failure;
    if (performance.now() > deadline) throw new Error(`${command} server start timed out after ${START_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `command argsFor(port)` on a free port of `host`; resolves with the port once it listens. */
export async function startOneShotServer(command: string, argsFor: (port: number) => string[], host: string): Promise<number> {
  const probe = createServer();
  const port = await listenOnFreePort(probe, host, 5000, `${command} port probe`);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const server = spawn(command, argsFor(port), { stdio: 'ignore' });
  try {
    await listening(command, server, port);
  } catch (err) {
    server.kill('SIGKILL');
    throw err;
  }
  setTimeout(() => server.kill('SIGKILL'), SERVER_LIFETIME_MS).unref();
  return port;
}

/** Runs a client to its end; its stdout, or null if it did not end within `timeoutMs`. */
export async function runClient(command: string, args: string[], timeoutMs: number): Promise<string | null> {
  const client = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await withTimeout(once(client, 'exit'), timeoutMs, `${command} client`);
    return out;
  } catch {
    client.kill('SIGKILL');
    return null;
  }
}
