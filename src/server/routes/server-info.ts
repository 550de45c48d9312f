/**
 * Information routes in SGLang's shape, each under its old and its new name:
 * - GET /get_model_info and /model_info: SGLang's fields (`model_path`, `tokenizer_path`,
 *   `is_generation`, `preferred_sampling_params`, `weight_version`, `has_image_understanding`,
 *   `has_audio_understanding`) plus our model description.
 * - GET /get_server_info and /server_info: the node options as in effect (the bound port, the loaded
 *   model's path, the served name), SGLang's names for the same facts, scheduler stats, version, and
 *   SGLang's `internal_states`: one dict (one scheduler, no data parallelism) with
 *   `last_gen_throughput`, `memory_usage` (KV pool size in GB and tokens; the weights are not
 *   measured here, so no `weight`), and `avg_spec_accept_length` null (no speculative decoding), which
 *   bench_serving reads from `internal_states[0]`.
 * - GET /get_load: SGLang's per-rank load list (one rank): requests running and waiting, and the
 *   tokens whose KV the pool holds.
 * All snake_case; scheduler stats come from one query per call.
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { SchedulerStats } from '../../../actors/scheduler/protocol.js';
import { bytesPerToken, type KvDtype } from '../../kv/layout.js';
import { snakeKeys } from '../snake-case.js';
import type { ServerContext } from '../server-context.js';
import { askScheduler } from '../scheduler-query.js';
import { VERSION } from '../version.js';

const GB = 1024 ** 3;

export function registerServerInfoRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const model = ctx.client.model;
  const modelInfo = {
    ...(snakeKeys(model) as Record<string, unknown>),
    served_model_name: ctx.servedModelName,
    // The tokenizer is read from the model directory.
    tokenizer_path: model.modelPath,
    is_generation: true,
    preferred_sampling_params: null,
    weight_version: 'default',
    has_image_understanding: false,
    has_audio_understanding: false,
  };
  for (const path of ['/get_model_info', '/model_info']) app.get(path, async () => modelInfo);

  const serverInfo = async (): Promise<Record<string, unknown>> => {
    const stats = await askScheduler(ctx.client.stats(), 'scheduler stats');
    return {
      ...(snakeKeys(withoutSecrets(ctx.options)) as Record<string, unknown>),
      model_path: model.modelPath,
      tokenizer_path: ctx.options.tokenizerPath ?? model.modelPath,
      served_model_name: ctx.servedModelName,
      // The engine's name and settings with their defaults, not the option (what was given, or a module URL).
      engine: ctx.client.model.engine,
      engine_config: snakeKeys(ctx.client.model.engineConfig),
      port: boundPort(app) ?? ctx.options.port,
      disaggregation_bootstrap_port: ctx.options.bootstrapPort,
      disaggregation_mode: ctx.options.role === 'colocated' ? 'null' : ctx.options.role,
      context_length: model.contextLength,
      max_total_num_tokens: stats.maxTotalTokens,
      scheduler_stats: snakeKeys(stats),
      internal_states: [internalState(ctx, stats)],
      version: VERSION,
    };
  };
  for (const path of ['/get_server_info', '/server_info']) app.get(path, serverInfo);

  app.get('/get_load', async () => {
    const stats = await askScheduler(ctx.client.stats(), 'scheduler stats');
    return [{ dp_rank: 0, num_reqs: stats.running + stats.waiting, num_waiting_reqs: stats.waiting, num_tokens: usedTokens(stats) }];
  });
}

function internalState(ctx: ServerContext, stats: SchedulerStats): Record<string, unknown> {
  const layout = ctx.client.model.kvLayout;
  const kvBytes = stats.maxTotalTokens * bytesPerToken({ ...layout, dtype: layout.dtype as KvDtype });
  return {
    last_gen_throughput: ctx.generation.metrics.genThroughput(),
    memory_usage: { kvcache: kvBytes / GB, token_capacity: stats.maxTotalTokens },
    avg_spec_accept_length: null,
    num_running_reqs: stats.running,
    num_waiting_reqs: stats.waiting,
    num_used_tokens: usedTokens(stats),
  };
}

function usedTokens(stats: SchedulerStats): number {
  return (stats.totalPages - stats.freePages) * stats.pageSize;
}

function boundPort(app: FastifyInstance): number | null {
  const address = app.server.address() as AddressInfo | string | null;
  return address !== null && typeof address === 'object' ? address.port : null;
}

/**
 * The node's options as /get_server_info lists them, credentials replaced by '(set)': SGLang lists
 * its API key there; pd-node keeps the API key and the etcd password on the node.
 */
function withoutSecrets(options: object): Record<string, unknown> {
  const o = options as Record<string, unknown> & { apiKey?: string | null; etcd?: { user: string | null } };
  const etcd = o.etcd === undefined ? {} : { etcd: { ...o.etcd, user: o.etcd.user === null ? null : `${o.etcd.user.split(':')[0]}:(set)` } };
  return { ...o, apiKey: o.apiKey == null ? null : '(set)', ...etcd };
}
