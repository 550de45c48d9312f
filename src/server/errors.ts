/**
 * Error responses. Decision: every error, on every route, has OpenAI's shape
 * `{ error: { message, type, param, code } }` so the official clients raise typed errors and SGLang
 * users still find `error.message`. All 4xx are `invalid_request_error` (as OpenAI does, 404 included).
 * A full node answers 503 with Retry-After (never a 4xx: the client did nothing wrong).
 */
import type { FastifyReply } from 'fastify';
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/**
 * Thrown by route code; the server's error handler turns it into the JSON error body.
 * `retryAfterSecs`: a capacity refusal (503) says when to come back, as the Retry-After header.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly retryAfterSecs: number | null = null,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The answer to `err` on any response: its status, headers (JSON; Retry-After for a capacity refusal) and JSON text. */
export interface ErrorAnswer {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: string;
}

const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json; charset=utf-8' };

export function errorAnswer(err: HttpError): ErrorAnswer {
  const headers = err.retryAfterSecs === null ? JSON_HEADERS : { ...JSON_HEADERS, 'retry-after': String(err.retryAfterSecs) };
  return { status: err.status, headers, body: JSON.stringify(errorBody(err.status, err.message, err.param, err.code)) };
}

/** Answers `err` on a Fastify reply (the node's and the router's error handlers); the router's raw front writes the same `errorAnswer`. */
export function sendHttpError(reply: FastifyReply, err: HttpError): FastifyReply {
  const answer = errorAnswer(err);
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

export function errorBody(status: number, message: string, param: string | null = null, code: string | null = null): ErrorBody {
  return { error: { message, type: errorType(status), param, code } };
}

function errorType(status: number): string {
  if (status === 503) return 'service_unavailable';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
