/**
 * Bounded polling for tests: what another thread or process makes true some time after the test
 * caused it is waited for, never expected at once, and never for longer than a bound (a bound, not a
 * timing assertion: it only has to be generous on a busy host).
 */
import assert from 'node:assert/strict';
import type { SchedulerStats } from '../../actors/scheduler/protocol.js';
import type { SchedulerClient } from '../../actors/scheduler/scheduler-client.js';

/** Between two probes: short, so a test does not sleep past what it waits for. */
const POLL_MS = 10;

/**
 * Probes until `ok` holds for the value, which it returns; fails after `timeoutMs` naming `what` and
 * the last value (`show` renders it: JSON unless told otherwise).
 */
export async function waitFor<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000, show: (v: T) => string = (v) => JSON.stringify(v)): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: still ${show(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Waits until no request runs, waits or holds pages, and every page is free again. */
export function waitForIdle(client: SchedulerClient, timeoutMs?: number): Promise<SchedulerStats> {
  return waitFor(
    () => client.stats(),
    (s) => s.running === 0 && s.waiting === 0 && s.pageTables === 0 && s.freePages === s.totalPages,
    'scheduler idle with every page free',
    timeoutMs,
  );
}
