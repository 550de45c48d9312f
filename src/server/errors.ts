/**
 * Error responses. Decision: every error, on every route, has OpenAI's shape
 * `{ error: { message, type, param, code } }` so the official clients raise typed errors and SGLang
 * users still find `error.message`. All 4xx are `invalid_request_error` (as OpenAI does, 404 included).
 */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Thrown by route code; the server's error handler turns it into the JSON error body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function errorBody(status: number, message: string, param: string | null = null, code: string | null = null): ErrorBody {
  return { error: { message, type: errorType(status), param, code } };
}

function errorType(status: number): string {
  if (status === 503) return 'service_unavailable';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
