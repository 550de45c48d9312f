import type { NodeOptions } from '../../src/node/options.js';

/** What the main thread hands the scheduler worker at spawn. */
export interface SchedulerWorkerData {
  options: NodeOptions;
  /** Resolved model directory (the default model already generated). */
  modelDir: string;
}
