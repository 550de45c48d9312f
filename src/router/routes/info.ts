/**
 * Information routes. Decisions:
 * - GET /v1/models, /v1/models/{model}, /get_model_info and /model_info describe the model, which
 *   every node serves: they are relayed from a decode node (the first that is up and answers below
 *   500), status and body unchanged.
 * - GET /get_server_info (and /server_info) is SGLang's PD router answer: `prefill` and `decode`,
 *   each node's own /get_server_info (all nodes asked at once; bench_serving reads
 *   `decode[0].internal_states[0]`), `internal_states` (every decode node's, concatenated, as
 *   SGLang's mini_lb answers for bench_one_batch_server), plus `router` (its settings and each
 *   node's state as the router sees it). A node that cannot answer gets `{ url, error }` in its
 *   place: one dead node never hides the others.
 * - GET /get_loads is sgl-router's: `{ prefill: [{ worker, load }], decode: [...] }`, the load being
 *   the node's running plus waiting requests (its /get_load), -1 when it cannot be read.
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
  app.get('/model_info', (request, reply) => fromDecode(request.url, reply));

  const serverInfos = async (): Promise<Record<string, unknown>> => {
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
      internal_states: decode.flatMap((info) => (Array.isArray(info.internal_states) ? (info.internal_states as unknown[]) : [])),
    };
  };
  app.get('/get_server_info', serverInfos);
  app.get('/server_info', serverInfos);

  app.get('/get_loads', async () => {
    const ask = (nodes: UpstreamNode[]): Promise<{ worker: string; load: number }[]> => Promise.all(nodes.map(async (n) => ({ worker: n.url, load: await nodeLoad(ctx, n) })));
    const [prefill, decode] = await Promise.all([ask(ctx.pool.nodes('prefill')), ask(ctx.pool.nodes('decode'))]);
    return { prefill, decode };
  });
}

/** A node's running plus waiting requests from its /get_load; -1 when it cannot be read (as sgl-router). */
async function nodeLoad(ctx: RouterContext, node: UpstreamNode): Promise<number> {
  try {
    const answer = await ctx.control(node, 'GET', '/get_load');
    const loads = answer.status === 200 ? (JSON.parse(answer.body) as unknown) : null;
    if (!Array.isArray(loads)) return -1;
    return loads.reduce((sum: number, l: { num_reqs?: unknown }) => sum + (typeof l?.num_reqs === 'number' ? l.num_reqs : 0), 0);
  } catch {
    return -1;
  }
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
