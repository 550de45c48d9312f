/**
 * SGLang's own clients as the tests need them, written from reading their source (facts only):
 * - bench_serving's request payloads per backend (`sglang` -> /generate, `sglang-oai` and `vllm` ->
 *   /v1/completions, `sglang-oai-chat` and `vllm-chat` -> /v1/chat/completions), with the fields it
 *   always sends (`lora_path: null`, `best_of: 1`, `logprob_start_len: -1`), and how it reads an
 *   answer (a stream line by line: `data: ` stripped, `[DONE]` skipped, text from `text` /
 *   `choices[0].text` / `choices[0].delta.content`) and its /get_server_info read.
 * - mini_lb (python/sglang/srt/disaggregation/mini_lb.py): the body it sends to both nodes (the
 *   client's, plus `bootstrap_host`, `bootstrap_port` (null without --prefill-bootstrap-ports) and a
 *   random 63-bit `bootstrap_room`, lists for a batch on /generate), and how it merges answers: the
 *   decode node's, with `return_logprob` the prefill's `meta_info.input_token_logprobs` put in front
 *   (stream: from the prefill's FIRST chunk, into every decode chunk).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

export const BENCH_BACKENDS = ['sglang', 'sglang-oai', 'sglang-oai-chat', 'vllm', 'vllm-chat'] as const;
export type BenchBackend = (typeof BENCH_BACKENDS)[number];

export function benchPath(backend: BenchBackend): string {
  if (backend === 'sglang') return '/generate';
  return backend.endsWith('-chat') ? '/v1/chat/completions' : '/v1/completions';
}

/** bench_serving's payload for one request (its defaults: streaming, ignore_eos, no LoRA, no logprobs). */
export function benchPayload(backend: BenchBackend, model: string, prompt: string, outputLen: number, stream = true): Record<string, unknown> {
  if (backend === 'sglang') {
    return {
      text: prompt,
      sampling_params: { temperature: 0.0, max_new_tokens: outputLen, ignore_eos: true },
      stream,
      lora_path: null,
      return_logprob: false,
      logprob_start_len: -1,
    };
  }
  if (backend.endsWith('-chat')) return { model, messages: [{ role: 'user', content: prompt }], temperature: 0.0, max_tokens: outputLen, stream };
  return { model, prompt, temperature: 0.0, best_of: 1, max_tokens: outputLen, stream, ignore_eos: true };
}

/** What bench_serving makes of a 200 answer: the generated text (it fails the request on any other status). */
export function benchText(backend: BenchBackend, body: string, stream: boolean): string {
  // Only its chat client reads a non-streamed answer as one JSON document; the others read any answer
  // line by line, so a whole answer must be one line.
  if (!stream && backend.endsWith('-chat')) return (JSON.parse(body) as any).choices[0].message.content;
  let text = '';
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const chunk = line.startsWith('data: ') ? line.slice(6) : line;
    if (chunk === '[DONE]') continue;
    const data = JSON.parse(chunk) as any;
    if (backend === 'sglang') {
      if (data.text) text = data.text; // cumulative
    } else if (backend.endsWith('-chat')) text += data.choices?.[0]?.delta?.content ?? '';
    else if (data.choices[0].text) text += data.choices[0].text;
  }
  return text;
}

/** bench_serving's read of a router's (or node's) /get_server_info after a run. */
export function benchAcceptLength(info: any): unknown {
  const server = 'decode' in info ? info.decode[0] : info;
  const state = server.internal_states[0];
  assert.ok(state !== null && typeof state === 'object', 'internal_states[0] is a dict');
  return state.avg_spec_accept_length ?? null;
}

/** A random room as mini_lb draws it: an integer in [0, 2^63), usually beyond 2^53. */
export function miniLbRoom(): bigint {
  return randomBytes(8).readBigUInt64BE() >> 1n;
}

/**
 * mini_lb's body (JSON text, rooms as bare integers as Python's json writes them): the client's
 * fields, then the bootstrap fields (`port` null when mini_lb has no --prefill-bootstrap-ports).
 */
export function miniLbBody(path: string, request: Record<string, unknown>, host: string, port: number | null): string {
  const text = request.text;
  const ids = request.input_ids;
  const batch = path === '/generate' && (Array.isArray(text) || (Array.isArray(ids) && Array.isArray(ids[0]))) ? ((text ?? ids) as unknown[]).length : null;
  const rooms = Array.from({ length: batch ?? 1 }, miniLbRoom);
  const fields =
    batch === null
      ? `"bootstrap_host":${JSON.stringify(host)},"bootstrap_port":${JSON.stringify(port)},"bootstrap_room":${rooms[0]}`
      : `"bootstrap_host":${JSON.stringify(rooms.map(() => host))},"bootstrap_port":${JSON.stringify(rooms.map(() => port))},"bootstrap_room":[${rooms.join(',')}]`;
  return `${JSON.stringify(request).slice(0, -1)},${fields}}`;
}

export interface MiniLbAnswer {
  status: number;
  body: string;
}

/**
 * mini_lb's forwarding: the same body to the prefill and the decode node at once; the client gets
 * the decode node's answer, merged as mini_lb merges input logprobs.
 */
export async function miniLbForward(prefillUrl: string, decodeUrl: string, path: string, request: Record<string, unknown>, port: number | null): Promise<MiniLbAnswer> {
  const body = miniLbBody(path, request, new URL(prefillUrl).hostname, port);
  const post = (url: string): Promise<Response> => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(120_000) });
  const [prefill, decode] = await Promise.all([post(prefillUrl), post(decodeUrl)]);
  const [prefillText, decodeText] = await Promise.all([prefill.text(), decode.text()]);
  if (request.stream === true) {
    if (request.return_logprob !== true) return { status: decode.status, body: decodeText };
    // The prefill's first line, `data:` cut off; its input logprobs go in front of every decode chunk's.
    const first = JSON.parse(prefillText.split('\n')[0].slice(5)) as any;
    const lines = decodeText.split('\n').map((line) => {
      if (!line.startsWith('data:') || line.includes('[DONE]')) return line;
      const chunk = JSON.parse(line.slice(5)) as any;
      chunk.meta_info.input_token_logprobs = [...first.meta_info.input_token_logprobs, ...chunk.meta_info.input_token_logprobs];
      return `data: ${JSON.stringify(chunk)}`;
    });
    return { status: decode.status, body: lines.join('\n') };
  }
  if (!('return_logprob' in request)) return { status: decode.status, body: decodeText };
  const merged = JSON.parse(decodeText) as any;
  if (merged.meta_info && 'input_token_logprobs' in merged.meta_info) {
    merged.meta_info.input_token_logprobs = [...(JSON.parse(prefillText) as any).meta_info.input_token_logprobs, ...merged.meta_info.input_token_logprobs];
  }
  return { status: decode.status, body: JSON.stringify(merged) };
}
