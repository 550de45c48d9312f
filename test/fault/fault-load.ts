/**
 * Closed-loop load for the fault tests: `concurrency` workers send /generate requests (prompts
 * taken in turn from a fixed list, greedy decoding) until stopped, recording every outcome with its
 * start and end time, so a test can tell what happened before, during and after a fault. Every
 * request is bounded by `timeoutMs`; one that reaches it is recorded with status 0 (a hang).
 */
import type { HttpClient } from './timed-fetch.js';

export interface Outcome {
  /** Index into the prompt list. */
  prompt: number;
  status: number;
  /** The generated text for a 200, else the error body. */
  text: string;
  /** performance.now() at send and at answer. */
  start: number;
  end: number;
}

export interface LoadOptions {
  http: HttpClient;
  url: string;
  prompts: readonly string[];
  sampling: Record<string, unknown>;
  concurrency: number;
  timeoutMs: number;
}

export class Load {
  readonly outcomes: Outcome[] = [];
  private sent = 0;
  private active = 0;
  private stopped = false;
  private readonly workers: Promise<void>[] = [];

  constructor(private readonly opts: LoadOptions) {
    for (let i = 0; i < opts.concurrency; i++) this.workers.push(this.worker());
  }

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.active;
  }

  private async worker(): Promise<void> {
    const { http, url, prompts, sampling, timeoutMs } = this.opts;
    while (!this.stopped) {
      const prompt = this.sent++ % prompts.length;
      this.active++;
      const start = performance.now();
      const reply = await http.request({ url: `${url}/generate`, body: JSON.stringify({ text: prompts[prompt], sampling_params: sampling }), timeoutMs });
      this.active--;
      const text = reply.status === 200 ? (JSON.parse(reply.text) as { text: string }).text : reply.text;
      this.outcomes.push({ prompt, status: reply.status, text, start, end: start + reply.ms });
    }
  }

  /** Resolves once `n` outcomes are in; fails after `ms` (the load is stuck). */
  async completed(n: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.outcomes.length < n) {
      if (Date.now() > deadline) throw new Error(`load: ${this.outcomes.length} of ${n} requests answered after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops sending; resolves with every outcome once the requests in flight have ended. */
  async stop(): Promise<Outcome[]> {
    this.stopped = true;
    await Promise.all(this.workers);
    return this.outcomes;
  }
}
