/**
 * Sends one prompt to SGLang's native `/generate` with `stream: true` and records when each output
 * token arrived. Decisions:
 * - `sampling_params`: greedy, `max_new_tokens` = the prompt's output length and `ignore_eos`, so the
 *   output length is the one asked for on every deployment.
 * - The stream is SSE (read with the router's reader, src/router/sse-events.ts), `data: <json>` per
 *   event, ended by `data: [DONE]`; each event carries the cumulative `output_ids` (a node's format,
 *   relayed unchanged by the router), so an event's new tokens are the growth of that list, and each
 *   gets the arrival time of the read that brought its event. Tokens that arrive together therefore
 *   have a zero gap between them.
 * - Times are milliseconds from the run's origin (performance.now() at its start), so records of one
 *   run share a clock.
 * - Never throws: an HTTP error, a `data: {"error": ...}` event, a stream that ends without [DONE] or
 *   a timeout becomes `error` on the record (the bench counts errors; it does not stop).
 */
import { sseData, sseEvents } from '../../src/router/sse-events.js';
import type { BenchPrompt } from './dataset.js';

export interface RequestRecord {
  index: number;
  kind: BenchPrompt['kind'];
  /** Asked for. */
  outputLen: number;
  /** When the arrival process released it, and when it was actually sent (later under --max-concurrency). */
  scheduledMs: number;
  sentMs: number;
  /** Arrival time of each output token. */
  tokenTimesMs: number[];
  endMs: number;
  /** As the node reported them in the last event (null if it never said). */
  promptTokens: number | null;
  completionTokens: number | null;
  /** The type of SGLang's finish_reason: length, stop or abort. */
  finishReason: string | null;
  error: string | null;
}

interface StreamEvent {
  output_ids?: unknown;
  meta_info?: { prompt_tokens?: unknown; completion_tokens?: unknown; finish_reason?: { type?: unknown } | null };
  error?: { message?: unknown };
}

export async function streamGenerate(baseUrl: string, prompt: BenchPrompt, index: number, scheduledMs: number, originMs: number, timeoutMs: number): Promise<RequestRecord> {
  const sentMs = performance.now() - originMs;
  const record: RequestRecord = { index, kind: prompt.kind, outputLen: prompt.outputLen, scheduledMs, sentMs, tokenTimesMs: [], endMs: sentMs, promptTokens: null, completionTokens: null, finishReason: null, error: null };
  const input = 'inputIds' in prompt.input ? { input_ids: prompt.input.inputIds } : { text: prompt.input.text };
  const body = JSON.stringify({ ...input, stream: true, sampling_params: { temperature: 0, max_new_tokens: prompt.outputLen, ignore_eos: true } });
  try {
    const res = await fetch(`${baseUrl}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok || res.body === null) {
      record.error = `HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`;
    } else {
      record.error = await readEvents(res.body, record, originMs);
    }
  } catch (err) {
    record.error = (err as Error).name === 'TimeoutError' ? `no complete answer within ${timeoutMs / 1000} s` : (err as Error).message;
  }
  record.endMs = performance.now() - originMs;
  return record;
}

/** Reads the SSE stream into `record`; returns the error, or null when it ended with [DONE]. */
async function readEvents(body: ReadableStream<Uint8Array>, record: RequestRecord, originMs: number): Promise<string | null> {
  // Every event of one read gets that read's arrival time (tokens read together: a zero gap).
  let readAtMs = 0;
  async function* stamped(): AsyncGenerator<string> {
    const decoder = new TextDecoder();
    for await (const chunk of body) {
      readAtMs = performance.now() - originMs;
      yield decoder.decode(chunk, { stream: true });
    }
  }
  let tokens = 0;
  for await (const event of sseEvents(stamped())) {
    const data = sseData(event);
    if (data === null) continue;
    if (data === '[DONE]') return null;
    const e = JSON.parse(data) as StreamEvent;
    if (e.error !== undefined) return `stream error: ${String(e.error?.message ?? JSON.stringify(e.error)).slice(0, 300)}`;
    const count = Array.isArray(e.output_ids) ? e.output_ids.length : tokens;
    for (; tokens < count; tokens++) record.tokenTimesMs.push(readAtMs);
    const meta = e.meta_info;
    if (typeof meta?.prompt_tokens === 'number') record.promptTokens = meta.prompt_tokens;
    if (typeof meta?.completion_tokens === 'number') record.completionTokens = meta.completion_tokens;
    if (typeof meta?.finish_reason?.type === 'string') record.finishReason = meta.finish_reason.type;
  }
  return 'the stream ended without [DONE]';
}
