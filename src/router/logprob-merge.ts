/**
 * Input logprobs in PD mode: only the prefill node ran the prompt, so with `return_logprob` its
 * `meta_info.input_token_logprobs` (and `input_top_logprobs`) are put into the decode node's answer.
 * Decisions:
 * - Merged as SGLang's router does: the prefill's list first, then whatever the decode node reported
 *   for the same field (normally nothing), so the result is right whether decode sends [] or omits it.
 * - Per prompt: a batch answer is a list (position = prompt index), a batch stream tags chunks with
 *   `index`; a single prompt is index 0. From a prefill stream, the last chunk of each index that has
 *   the fields is used: chunks are cumulative (a node sends input logprobs from its first chunk on,
 *   as SGLang does). In a decode stream every chunk with `meta_info` gets
 *   them (the first included), as SGLang's router does: meta_info is cumulative, and clients read it
 *   from the first chunk or from the last (where a colocated node reports input logprobs).
 * - Text that is not the expected JSON is left alone: the decode answer is relayed unmerged rather
 *   than failed.
 */
import { sseData } from './sse-events.js';

const FIELDS = ['input_token_logprobs', 'input_top_logprobs'] as const;

type InputLogprobs = Partial<Record<(typeof FIELDS)[number], unknown[]>>;
type Json = Record<string, unknown>;

/** Per prompt index, the input logprobs of a prefill answer (a JSON body or a whole SSE stream). */
export function prefillInputLogprobs(body: string, stream: boolean): Map<number, InputLogprobs> {
  const found = new Map<number, InputLogprobs>();
  const note = (output: unknown, fallbackIndex: number): void => {
    const meta = metaInfo(output);
    if (meta === null) return;
    const lists: InputLogprobs = {};
    for (const field of FIELDS) if (Array.isArray(meta[field])) lists[field] = meta[field] as unknown[];
    if (Object.keys(lists).length > 0) found.set(indexOf(output, fallbackIndex), lists);
  };
  if (stream) {
    for (const event of body.split(/\r?\n\r?\n/)) {
      const data = sseData(event);
      if (data !== null) note(parse(data), 0);
    }
  } else {
    const whole = parse(body);
    if (Array.isArray(whole)) whole.forEach(note);
    else note(whole, 0);
  }
  return found;
}

/** A whole decode answer (JSON text) with the prefill's input logprobs merged in. */
export function mergeWhole(body: string, from: ReadonlyMap<number, InputLogprobs>): string {
  const whole = parse(body);
  if (whole === undefined) return body;
  if (Array.isArray(whole)) whole.forEach((output, i) => merge(output, from.get(i)));
  else merge(whole, from.get(0));
  return JSON.stringify(whole);
}

/** One decode stream event with the prefill's input logprobs merged in; events without meta_info pass unchanged. */
export function mergeStreamEvent(event: string, from: ReadonlyMap<number, InputLogprobs>): string {
  const data = sseData(event);
  const chunk = data === null ? undefined : parse(data);
  if (metaInfo(chunk) === null) return event;
  merge(chunk, from.get(indexOf(chunk, 0)));
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

function merge(output: unknown, lists: InputLogprobs | undefined): void {
  const meta = metaInfo(output);
  if (meta === null || lists === undefined) return;
  for (const field of FIELDS) {
    const fromPrefill = lists[field];
    if (fromPrefill === undefined) continue;
    const own = meta[field];
    meta[field] = Array.isArray(own) ? [...fromPrefill, ...own] : fromPrefill;
  }
}

function metaInfo(output: unknown): Json | null {
  if (!isObject(output)) return null;
  const meta = output.meta_info;
  return isObject(meta) ? meta : null;
}

function indexOf(output: unknown, fallback: number): number {
  const index = isObject(output) ? output.index : undefined;
  return typeof index === 'number' ? index : fallback;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
