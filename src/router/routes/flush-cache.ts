/**
 * POST /flush_cache: flushes every known node's prefix cache (all at once) and reports per node.
 * 200 `{ success: true, message, nodes }` when every node flushed; otherwise an error body (the
 * usual shape) with the same `nodes` report beside it: 400 when every failure was a node's 4xx (a
 * node refuses while requests run: the client may retry when idle), else 502. No node known: 503.
 */
import type { FastifyInstance } from 'fastify';
import { errorBody, HttpError } from '../../server/errors.js';
import type { RouterContext } from '../router-context.js';
import type { UpstreamNode } from '../upstream-node.js';

interface NodeFlush {
  url: string;
  role: string;
  success: boolean;
  /** The node's HTTP status; null when it could not be reached. */
  status: number | null;
  message: string;
}

export function registerFlushCacheRoute(app: FastifyInstance, ctx: RouterContext): void {
  app.post('/flush_cache', async (_request, reply) => {
    const nodes = ctx.pool.nodes();
    if (nodes.length === 0) throw new HttpError(503, 'no node is known');
    const report = await Promise.all(nodes.map((n) => flush(ctx, n)));
    const failed = report.filter((r) => !r.success);
    if (failed.length === 0) return { success: true, message: `Cache flushed on ${report.length} nodes.`, nodes: report };
    const status = failed.every((r) => r.status !== null && r.status < 500) ? 400 : 502;
    const message = `cache not flushed on ${failed.map((r) => `${r.url} (${r.message})`).join(', ')}`;
    return reply.code(status).send({ ...errorBody(status, message), nodes: report });
  });
}

async function flush(ctx: RouterContext, node: UpstreamNode): Promise<NodeFlush> {
  const base = { url: node.url, role: node.role };
  try {
    const { status, body } = await ctx.control(node, 'POST', '/flush_cache');
    return { ...base, success: status === 200, status, message: status === 200 ? 'flushed' : `answered ${status}: ${body.slice(0, 200)}` };
  } catch (err) {
    return { ...base, success: false, status: null, message: (err as Error).message };
  }
}
