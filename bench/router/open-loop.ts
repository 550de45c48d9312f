/**
 * An open-loop HTTP load: requests are sent at a fixed rate whatever the answers do, as independent
 * users arrive, until the duration has passed; then the requests in flight are awaited. Decisions:
 * - Free of coordinated omission: request i is due at start + i / rate, and its latency runs from
 *   that due time (not from when it was actually written) to the last byte of its answer. A server
 *   (or load generator) that falls behind makes the requests wait, and the wait is in the figures,
 *   which a closed loop would hide by sending less.
 * - Requests due are sent from a timer every TICK_MS, all at once if several are due; keep-alive
 *   connections, at most `maxConnections` (beyond that, requests queue in the agent: counted too).
 * - A request that fails, times out or answers other than 200 is an error; its latency is not kept.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { LatencyRecorder } from '../stats.js';
import type { LoadResult } from './closed-loop.js';

/** How often due requests are sent: 1 ms, the finest timer Node has; lateness within it is counted. */
const TICK_MS = 1;

export async function openLoop(url: string, body: Buffer, ratePerSec: number, durationMs: number, timeoutMs: number, maxConnections: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxConnections });
  const target = new URL(url);
  const latency = new LatencyRecorder();
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  const send = (due: number): void => {
    const done = new Promise<void>((resolve) => {
      const finish = (ok: boolean): void => {
        if (ok) latency.record(performance.now() - due);
        else errors++;
        resolve();
      };
      const req = http.request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': body.length } },
        (res) => {
          res.resume();
          res.on('end', () => finish(res.statusCode === 200));
          res.on('error', () => finish(false));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', () => finish(false));
      req.end(body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };
  const t0 = performance.now();
  const total = Math.floor((ratePerSec * durationMs) / 1000);
  const interval = 1000 / ratePerSec;
  try {
    for (let sent = 0; sent < total; ) {
      const now = performance.now();
      while (sent < total && t0 + sent * interval <= now) send(t0 + sent++ * interval);
      await sleep(TICK_MS);
    }
    await Promise.all(inFlight);
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - t0) / 1000;
  const { p50, p99 } = latency.summary();
  return { requests: latency.count, errors, seconds, p50Ms: p50, p99Ms: p99 };
}
