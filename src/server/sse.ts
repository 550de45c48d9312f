/**
 * Server-sent events on a hijacked Fastify reply: `data: <json>\n\n` per chunk, `data: [DONE]\n\n`
 * last (SGLang and OpenAI both end this way). Headers are sent only on `open()`, so a request that
 * fails before it starts can still get a plain HTTP error status. Nothing is written once the client
 * has gone or the stream has ended.
 */
import type { FastifyReply } from 'fastify';

/** The head of an event stream; the router's relayed streams send the same (src/router/client-stream.ts). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  // Keeps reverse proxies (nginx) from buffering the stream.
  'x-accel-buffering': 'no',
};

/** The last event of every stream. */
export const SSE_DONE = 'data: [DONE]\n\n';

/** One event carrying `data` as JSON. */
export function sseEvent(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

export class SseStream {
  private opened = false;

  constructor(private readonly reply: FastifyReply) {}

  get isOpen(): boolean {
    return this.opened;
  }

  private get writable(): boolean {
    const res = this.reply.raw;
    return this.opened && !res.writableEnded && !res.destroyed;
  }

  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.reply.hijack();
    const res = this.reply.raw;
    if (res.destroyed) return;
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
  }

  send(data: unknown): void {
    if (this.writable) this.reply.raw.write(sseEvent(data));
  }

  end(): void {
    if (this.writable) this.reply.raw.end(SSE_DONE);
  }
}
