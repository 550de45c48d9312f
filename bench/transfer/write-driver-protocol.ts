/**
 * Messages between the benchmark's main thread and its write driver (write-driver.ts): `ready` once
 * it started, then one reply per request, in order, carrying the request's id. A row's plan travels as its parameters: both sides build the same RowPlan.
 */
import type { KvEndpoint } from '../../src/transfer/kv-transfer.js';
import type { TransferConfig } from '../../src/transfer/transfer-backend.js';
import type { Pattern } from './row-plan.js';

export interface DriverData {
  /** The sending side's backend and settings (its flags as given to pd-bench). */
  transfer: TransferConfig;
  pool: SharedArrayBuffer;
  pageBytes: number;
  numPages: number;
  concurrency: number;
  writeTimeoutMs: number;
  maxPoolBytes: number;
}

export interface PlanSpec {
  size: number;
  pattern: Pattern;
}

/** Stop after `writes` writes, or after `ms` of writing. */
export type StopRule = { writes: number } | { ms: number };

export type DriverRequest = { type: 'connect'; endpoint: KvEndpoint } | { type: 'run'; plan: PlanSpec; stop: StopRule } | { type: 'close' };

export interface RunResult {
  writes: number;
  seconds: number;
  /** CPU time of this whole process (every thread: driver, transfer actor, main) during the run, us. */
  cpuUs: number;
  /** Per-write latencies, ms. */
  latencies: Float64Array;
  /** Per destination slot: the source slot it received last (-1: none). */
  lastSrc: number[];
}

export type DriverReply = { type: 'connected' } | ({ type: 'ran' } & RunResult) | { type: 'closed' } | { type: 'error'; message: string };

/** Main thread -> driver. */
export interface DriverCall {
  id: number;
  req: DriverRequest;
}

/** Driver -> main thread. */
export type DriverMessage = { type: 'ready' } | { type: 'reply'; id: number; reply: DriverReply };
