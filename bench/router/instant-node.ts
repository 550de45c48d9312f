/**
 * An upstream node that answers at once, for `pd-bench router`: POST /generate (and the OpenAI
 * routes) get a fixed, precomputed node-shaped JSON answer; GET /health, /get_server_info,
 * /get_model_info and /v1/models answer as a node's do. Whatever the router adds to a request is
 * read and ignored, so the time measured through the router is the router's own plus one hop.
 */
import http from 'node:http';
import { listenOnFreePort } from '../../src/transfer/listen-port.js';
import { httpUrlOf } from '../../src/server/http-url.js';

export type InstantRole = 'prefill' | 'decode';

const LISTEN_TIMEOUT_MS = 5000;

function answers(role: InstantRole): Map<string, Buffer> {
  const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
  const generated = json({
    text: role === 'decode' ? ' instant' : ' i',
    output_ids: role === 'decode' ? [7, 8] : [7],
    meta_info: { id: `${role}-instant`, finish_reason: { type: 'length', length: 2 }, prompt_tokens: 2, completion_tokens: role === 'decode' ? 2 : 1, cached_tokens: 0, e2e_latency: 0 },
  });
  return new Map([
    ['POST /generate', generated],
    ['POST /v1/completions', generated],
    ['GET /health', Buffer.alloc(0)],
    ['GET /get_server_info', json({ role, served_model_name: 'instant' })],
    ['GET /get_model_info', json({ model_path: '/models/instant', served_model_name: 'instant', is_generation: true })],
    ['GET /v1/models', json({ object: 'list', data: [{ id: 'instant', object: 'model', owned_by: 'pd-node' }] })],
  ]);
}

export interface InstantNode {
  url: string;
  /** Drops its keep-alive connections and stops listening. */
  close(): void;
}

export async function startInstantNode(role: InstantRole, host: string, port: number): Promise<InstantNode> {
  const byRoute = answers(role);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = byRoute.get(`${req.method} ${req.url}`);
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  const bound = await listenOnFreePort(server, host, LISTEN_TIMEOUT_MS, `instant ${role} node`, port);
  return {
    url: httpUrlOf(host, bound),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
