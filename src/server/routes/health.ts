/**
 * GET /health: 200 (empty body, as SGLang) while the scheduler answers a stats query.
 * GET /health_generate: 200 when a 1-token greedy generation from token id 0 completes, else 503.
 * Both waits are bounded; the probe generation is aborted when its time is up and is kept out of
 * the request metrics.
 */
import type { FastifyInstance } from 'fastify';
import { DEFAULT_SAMPLING } from '../../sampling/params.js';
import { buildRequests, NO_LOGPROBS } from '../build-requests.js';
import { HttpError } from '../errors.js';
import { GenerationBatch } from '../generation.js';
import { freshRid } from '../request-ids.js';
import { askScheduler } from '../scheduler-query.js';
import type { ServerContext } from '../server-context.js';

/** The probe waits behind the running batch's current step, which can be long on a CPU engine. */
const HEALTH_GENERATE_TIMEOUT_MS = 30_000;

export function registerHealthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/health', async (_request, reply) => {
    await askScheduler(ctx.client.stats(), 'scheduler stats');
    return reply.code(200).send();
  });

  app.get('/health_generate', async (_request, reply) => {
    const sampling = { ...DEFAULT_SAMPLING, maxNewTokens: 1, temperature: 0 };
    const requests = buildRequests([{ kind: 'ids', ids: [0] }], [`health-${freshRid()}`], sampling, NO_LOGPROBS);
    const batch = new GenerationBatch(ctx.generation, requests, { observe: false });
    const failures: string[] = [];
    const done = batch.start((e) => {
      if (e.type === 'error') failures.push(e.message);
    });
    try {
      await askScheduler(done, 'the probe generation', HEALTH_GENERATE_TIMEOUT_MS);
    } finally {
      batch.abort('health probe timed out');
    }
    if (failures.length > 0) throw new HttpError(503, `the probe generation failed: ${failures[0]}`);
    return reply.code(200).send();
  });
}
