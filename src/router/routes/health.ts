/**
 * GET /health: 200 (empty body, as a node answers) when at least one prefill and one decode node are
 * known and up, else 503 saying which role is missing. It reads the router's own view (no calls to
 * nodes), so it is cheap enough for frequent probes.
 * GET /health_generate: a 1-token greedy generation from token id 0 through a pair, exactly as a
 * client's would go (policies, retries, the request timeout): 200 when it completes, else 503 with
 * the reason. It is a probe, so it is kept out of the request metrics.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../../server/errors.js';
import { freshRid } from '../../server/request-ids.js';
import { ClientGone } from '../client-gone.js';
import { proxyGeneration, type GenerationRequest } from '../generation-proxy.js';
import type { RouterContext } from '../router-context.js';

const PROBE_BODY = { input_ids: [0], sampling_params: { max_new_tokens: 1, temperature: 0 } };

export function registerHealthRoutes(app: FastifyInstance, ctx: RouterContext): void {
  app.get('/health', async (_request, reply) => {
    for (const role of ['prefill', 'decode'] as const) {
      const up = ctx.pool.candidates(role, new Set());
      if (up.length === 0) throw new HttpError(503, ctx.pool.nodes(role).length === 0 ? `no ${role} node is known` : `no ${role} node is up`);
    }
    return reply.code(200).send();
  });

  app.get('/health_generate', async (request, reply) => {
    const client = new ClientGone();
    request.raw.on('close', client.leave);
    const probe: GenerationRequest = { path: '/generate', text: JSON.stringify(PROBE_BODY), json: PROBE_BODY, rid: `health-${freshRid()}` };
    const outcome = await proxyGeneration(ctx, probe, null, client).finally(() => request.raw.off('close', client.leave));
    if (outcome.kind === 'aborted') return reply.hijack();
    if (outcome.kind === 'error') throw new HttpError(503, `the probe generation failed: ${outcome.message}`);
    if (outcome.kind === 'answer' && outcome.status !== 200) throw new HttpError(503, `the probe generation failed: the decode node answered ${outcome.status}: ${outcome.body}`);
    return reply.code(200).send();
  });
}
