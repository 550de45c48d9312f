/**
 * Pieces shared by the OpenAI completion and chat responses: identity fields, finish reasons, usage.
 * Decision: a scheduler-side abort is reported as finish_reason "abort" (as SGLang does) rather than
 * disguised as "stop".
 */
import type { TokenLogprob } from '../../generation/output.js';
import type { Run } from '../generation.js';

export interface OpenAiResponseInfo {
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
  stream: boolean;
  /** `stream_options.include_usage`: every chunk has `usage: null`, then a last chunk with the usage. */
  includeUsage: boolean;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export function finishReason(run: Run): string | null {
  return run.meta?.finishReason.type ?? null;
}

export function usage(runs: readonly Run[]): Usage {
  let prompt = 0;
  let completion = 0;
  let cached = 0;
  for (const run of runs) {
    prompt += run.meta?.promptTokens ?? run.promptTokens;
    completion += run.meta?.completionTokens ?? run.outputIds.length;
    cached += run.meta?.cachedTokens ?? 0;
  }
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } };
}

/** A logprob entry's token text; the scheduler may leave it null, which OpenAI's shape cannot express. */
export function tokenText(lp: TokenLogprob): string {
  return lp[2] ?? '';
}

/** The fields every OpenAI chunk starts with, with `usage: null` when usage comes in a last chunk. */
export function chunkHead(info: OpenAiResponseInfo, object: string): Record<string, unknown> {
  const head: Record<string, unknown> = { id: info.id, object, created: info.created, model: info.model };
  if (info.includeUsage) head.usage = null;
  return head;
}

export function usageChunk(info: OpenAiResponseInfo, object: string, runs: readonly Run[]): unknown[] {
  return info.includeUsage ? [{ id: info.id, object, created: info.created, model: info.model, choices: [], usage: usage(runs) }] : [];
}
