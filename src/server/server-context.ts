/**
 * What every route of one HTTP server shares. Built once by `createHttpServer`.
 */
import type { Logger } from '../log/logger.js';
import type { SchedulerClient } from '../../actors/scheduler/scheduler-client.js';
import type { GenerationDeps } from './generation.js';
import type { ServerMetrics } from './metrics.js';
import type { ServerOptions } from './server-options.js';

export interface ServerContext {
  readonly client: SchedulerClient;
  readonly options: ServerOptions;
  readonly log: Logger;
  /** `options.servedModelName`, else the model's own name: what /v1/models lists and `model` must match. */
  readonly servedModelName: string;
  readonly metrics: ServerMetrics;
  readonly generation: GenerationDeps;
}
