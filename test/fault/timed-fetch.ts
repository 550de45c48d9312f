/**
 * One HTTP exchange as the fault tests see it: always ends (timeout), never throws; a network error
 * or a timeout is status 0 with the reason as text, and the latency is measured where the request
 * was made. Used by the fault tests on this host and by the agent in a namespace (fetch-agent.ts).
 */
export interface HttpRequest {
  url: string;
  method?: 'GET' | 'POST';
  /** JSON text (POST). */
  body?: string;
  timeoutMs: number;
}

export interface HttpReply {
  /** 0: no answer (network error or timeout; `text` says which). */
  status: number;
  text: string;
  ms: number;
}

/** Something that makes HTTP requests: this process (`timedFetch`) or an agent in a namespace. */
export interface HttpClient {
  request(req: HttpRequest): Promise<HttpReply>;
}

export async function timedFetch(req: HttpRequest): Promise<HttpReply> {
  const t0 = performance.now();
  try {
    const res = await fetch(req.url, {
      method: req.method ?? (req.body === undefined ? 'GET' : 'POST'),
      headers: req.body === undefined ? undefined : { 'content-type': 'application/json' },
      body: req.body,
      signal: AbortSignal.timeout(req.timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, text, ms: performance.now() - t0 };
  } catch (err) {
    const e = err as Error & { cause?: Error };
    return { status: 0, text: `${e.name}: ${e.message}${e.cause ? ` (${e.cause.message})` : ''}`, ms: performance.now() - t0 };
  }
}

export const localHttp: HttpClient = { request: timedFetch };

export async function getJson(http: HttpClient, url: string, timeoutMs = 10_000): Promise<any> {
  const r = await http.request({ url, timeoutMs });
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.text}`);
  return JSON.parse(r.text);
}
