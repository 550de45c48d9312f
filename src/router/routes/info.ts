/**
 * Information routes. Decisions:
 * - GET /v1/models, /v1/models/{model} and /get_model_info describe the model, which every node
 *   serves: they are relayed from a decode node (the first that is up and answers below 500), status
 *   and body unchanged.
 * - GET /get_server_info is SGLang's router answer (`prefill` and `decode`: each node's own
 *   /get_server_info, all nodes asked at once) plus `router` (its settings and each node's state as
 *   the router sees it). A node that cannot answer gets `{ url, error }` in its place: one dead node
 *   never hides the others.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AddressInfo } from 'node:net';
import { HttpError } from '../../server/errors.js';
import { snakeKeys } from '../../server/snake-case.js';
import { VERSION } from '../../server/version.js';
import type { RouterContext } from '../router-context.js';
import type { UpstreamNode } from '../upstream-node.js';

export function registerInfoRoutes(app: FastifyInstance, ctx: RouterContext): void {
  const fromDecode = async (path: string, reply: FastifyReply): Promise<FastifyReply> => {
    const problems: string[] = [];
    for (const node of ctx.pool.candidates('decode', new Set())) {
      try {
        const answer = await ctx.control(node, 'GET', path);
        if (answer.status < 500) return reply.code(answer.status).header('content-type', answer.contentType).send(answer.body);
        problems.push(`${node.url} answered ${answer.status}`);
      } catch (err) {
        problems.push(`${node.url}: ${(err as Error).message}`);
      }
    }
    throw new HttpError(503, problems.length === 0 ? 'no decode node is up' : `no decode node answered ${path}: ${problems.join('; ')}`);
  };
  app.get('/v1/models', (request, reply) => fromDecode(request.url, reply));
  app.get('/v1/models/*', (request, reply) => fromDecode(request.url, reply));
  app.get('/get_model_info', (request, reply) => fromDecode(request.url, reply));

  app.get('/get_server_info', async () => {
    const ask = (nodes: UpstreamNode[]): Promise<Record<string, unknown>[]> => Promise.all(nodes.map((n) => serverInfo(ctx, n)));
    const [prefill, decode] = await Promise.all([ask(ctx.pool.nodes('prefill')), ask(ctx.pool.nodes('decode'))]);
    const { nodeSource, ...settings } = ctx.options;
    const address = app.server.address() as AddressInfo | null;
    return {
      router: {
        ...(snakeKeys(settings) as Record<string, unknown>),
        port: address?.port ?? settings.port,
        node_source: nodeSource === undefined ? null : 'registry',
        version: VERSION,
        nodes: ctx.pool.nodes().map((n) => ({ role: n.role, url: n.url, origin: n.origin, bootstrap_port: n.bootstrapPort, up: n.up, down_reason: n.downReason, load: n.load })),
      },
      prefill,
      decode,
    };
  });
}

async function serverInfo(ctx: RouterContext, node: UpstreamNode): Promise<Record<string, unknown>> {
  try {
    const answer = await ctx.control(node, 'GET', '/get_server_info');
    if (answer.status !== 200) return { url: node.url, error: `answered ${answer.status}: ${answer.body.slice(0, 200)}` };
    const info = JSON.parse(answer.body) as unknown;
    if (info === null || typeof info !== 'object' || Array.isArray(info)) return { url: node.url, error: 'answered with something other than a JSON object' };
    return { url: node.url, ...info };
  } catch (err) {
    return { url: node.url, error: err instanceof SyntaxError ? `answered invalid JSON: ${err.message}` : (err as Error).message };
  }
}
