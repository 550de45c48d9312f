/**
 * `--api-key` on the HTTP API, as SGLang has it (`add_api_key_middleware`): every request must carry
 * `Authorization: Bearer KEY`, except OPTIONS and paths under /health and /metrics (liveness probes
 * and Prometheus scrapers hold no key). Shared by the node's server and the router's. Decisions:
 * - A refusal is 401 with our usual error body (OpenAI's shape, code `invalid_api_key`, as OpenAI
 *   answers a wrong key), where SGLang sends `{"error": "Unauthorized"}`: clients look at the status,
 *   and every error of pd-node has one shape.
 * - The comparison takes the same time whatever the presented value: both sides are hashed
 *   (SHA-256, fixed length) and compared with `timingSafeEqual`, so neither the key's length nor a
 *   matching prefix leaks through timing.
 * - The hook runs on `onRequest`, before the body is read: a request without the key costs no
 *   parsing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { errorBody, type ErrorBody } from './errors.js';

/** Path prefixes that stay open with a key set (SGLang's: /health covers /health_generate too). */
const OPEN_PREFIXES = ['/health', '/metrics'] as const;

/** The header value a client (or the router, towards nodes) presents. */
export function bearer(apiKey: string): string {
  return `Bearer ${apiKey}`;
}

/** Requires `Authorization: Bearer apiKey` on `app`'s routes; no-op for a null key. */
export function requireApiKey(app: FastifyInstance, apiKey: string | null): void {
  if (apiKey === null) return;
  const refusal = apiKeyRefusal(apiKey);
  app.addHook('onRequest', (request, reply, done) => {
    if (request.method === 'OPTIONS' || OPEN_PREFIXES.some((p) => request.url.startsWith(p))) return done();
    const body = refusal(request.headers.authorization);
    if (body === null) return done();
    void reply.code(401).send(body);
  });
}

/**
 * The key check alone, for a server outside Fastify (the router's raw front): the 401 error body
 * for a request with this Authorization header, or null when it carries the key.
 */
export function apiKeyRefusal(apiKey: string): (authorization: string | undefined) => ErrorBody | null {
  const expected = digest(bearer(apiKey));
  return (given) => {
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return null;
    const message = given === undefined ? 'missing API key: send the header "Authorization: Bearer KEY"' : 'incorrect API key';
    return errorBody(401, message, null, 'invalid_api_key');
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
