/**
 * A closed-loop HTTP load: `concurrency` clients, each sending the next request as soon as its last
 * answer ended, over keep-alive connections (one per client), until the duration has passed. Every
 * request's latency (sent to last byte received) is recorded; answers other than 200, and failed or
 * timed-out requests, are counted as errors.
 */
import http from 'node:http';
import { LatencyRecorder } from '../stats.js';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

export async function closedLoop(url: string, body: Buffer, concurrency: number, durationMs: number, timeoutMs: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const latency = new LatencyRecorder();
  let errors = 0;
  const once = (): Promise<boolean> =>
    new Promise((resolve) => {
      const req = http.request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': body.length } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200));
          res.on('error', () => resolve(false));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', () => resolve(false));
      req.end(body);
    });
  const t0 = performance.now();
  const client = async (): Promise<void> => {
    while (performance.now() - t0 < durationMs) {
      const start = performance.now();
      if (await once()) latency.record(performance.now() - start);
      else errors++;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, client));
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - t0) / 1000;
  const { p50, p99 } = latency.summary();
  return { requests: latency.count, errors, seconds, p50Ms: p50, p99Ms: p99 };
}
