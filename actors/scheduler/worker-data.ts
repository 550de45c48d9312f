import type { MessagePort } from 'node:worker_threads';
import type { SchedulerOptions } from './scheduler-options.js';

/** What the main thread hands the scheduler worker at spawn. */
export interface SchedulerWorkerData {
  options: SchedulerOptions;
  /** Resolved model directory (the default model already generated). */
  modelDir: string;
  /** Prefill: handed on to the transfer actor, which posts rooms' completion notices (kv_done) here. */
  notices?: MessagePort;
  /** PD: the cluster secret the main thread read at start-up (one read, one truth for every thread). */
  clusterSecret?: Uint8Array;
}
