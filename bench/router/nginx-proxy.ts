/**
 * nginx as a plain reverse proxy to one node, the reference `pd-bench router` measures the router
 * against in the same run: what one proxy hop costs when a mature C proxy makes it. Decisions:
 * - Started only when `nginx` is on PATH; otherwise the benchmark says so and goes on without it
 *   (nothing in the package depends on nginx; tests never need it).
 * - Its own prefix directory (config, pid, logs, temp paths) in a fresh temporary directory, removed
 *   at close; `daemon off` so it is our child and dies with a SIGKILL if it will not quit.
 * - Configured as a proxy should be for this load: upstream keep-alive (HTTP/1.1, `Connection`
 *   cleared, up to UPSTREAM_KEEPALIVE idle connections per worker), no access log, no buffering to
 *   disk. `worker_processes` as the router's workers, so each router row has a like-for-like line.
 * - The port is one the OS just handed out (bound, then released for nginx): a tiny race, and a
 *   failed start says which port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpUrlOf } from '../../src/server/http-url.js';
import { listenOnFreePort } from '../../src/transfer/listen-port.js';
import { withTimeout } from '../../src/util/timeout.js';

/** Idle keep-alive connections nginx keeps to the node per worker: above any concurrency the bench runs (256). */
const UPSTREAM_KEEPALIVE = 512;
/** Client connections per nginx worker: above the bench's concurrencies and open-loop connections. */
const WORKER_CONNECTIONS = 4096;
const START_MS = 10_000;
const STOP_MS = 5_000;
/** How often the port is tried while nginx starts. */
const POLL_MS = 50;

export interface NginxProxy {
  url: string;
  pid: number;
  workers: number;
  close(): Promise<void>;
}

/** The nginx executable on PATH, or null. */
export function nginxOnPath(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'nginx');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export async function startNginxProxy(nginx: string, upstreamUrl: string, host: string, workers: number): Promise<NginxProxy> {
  const upstream = new URL(upstreamUrl);
  const probe = net.createServer();
  const port = await listenOnFreePort(probe, host, START_MS, 'nginx port');
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-nginx-'));
  const listen = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes ${workers};
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections ${WORKER_CONNECTIONS}; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  upstream node { server ${upstream.host}; keepalive ${UPSTREAM_KEEPALIVE}; }
  server {
    listen ${listen};
    location / { proxy_pass http://node; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
`,
  );
  const child = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  const close = async (): Promise<void> => {
    await stop(child, exited);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await withTimeout(Promise.race([untilConnects(host, port), exited.then(([code]) => Promise.reject(new Error(`nginx exited (code ${code}) at start: ${stderr.trim()}`)))]), START_MS, `nginx start on ${listen}`);
  } catch (err) {
    await close();
    throw err;
  }
  return { url: httpUrlOf(host, port), pid: child.pid!, workers, close };
}

/** Resolves once the port accepts a connection; gives up (silently: the caller's timeout reports it) after START_MS. */
async function untilConnects(host: string, port: number): Promise<void> {
  const deadline = performance.now() + START_MS;
  while (performance.now() < deadline) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (connected) return;
    await sleep(POLL_MS);
  }
}

/** SIGQUIT (nginx's graceful stop), then SIGKILL if it has not exited within STOP_MS. */
async function stop(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGQUIT');
  await withTimeout(exited, STOP_MS, 'nginx stop').catch(() => {
    child.kill('SIGKILL');
    return exited;
  });
}
