/**
 * The HTTP front end's own configuration: the fields of `NodeOptions` its routes read. The
 * composition root (src/node/start-node.ts) passes the node's whole options, which /server_info
 * lists (SGLang lists every server argument there).
 */
import type { SchedulerOptions } from '../../actors/scheduler/scheduler-options.js';
import type { PdOptions } from '../pd/pd-options.js';

/** `bootstrapPort`: a PD request whose `bootstrap_port` is null or absent means this node's own (SGLang's rule). */
export interface ServerOptions extends Pick<SchedulerOptions, 'servedModelName' | 'role' | 'tokenizerPath'>, Pick<PdOptions, 'bootstrapPort'> {
  /** 0 picks a free port. */
  port: number;
  /** Largest list accepted in one /generate call. */
  maxBatchSize: number;
  /** The largest request body read (bytes, --max-payload-size); a larger one gets 413. */
  maxPayloadBytes: number;
  /**
   * SGLang's `--api-key`: the HTTP API wants `Authorization: Bearer KEY` (except /health* and
   * /metrics*; src/server/api-key.ts); null: open.
   */
  apiKey: string | null;
}
