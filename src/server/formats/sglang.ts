/**
 * SGLang's /generate response: `{ text, output_ids, meta_info }`, a list for a list of prompts.
 * Streamed chunks carry the cumulative text, ids and meta_info (finish_reason null until the last),
 * plus `index` when the request was a batch, as SGLang does. `cached_tokens` is known only at the end
 * (0 before). Logprob lists appear only with `return_logprob`, the top-k ones only with
 * `top_logprobs_num > 0`; the prompt's (`input_token_logprobs`) are in every chunk from the first on,
 * as SGLang sends them (mini_lb takes them from a prefill node's first chunk).
 */
import type { FinishReason, TokenLogprob } from '../../generation/output.js';
import type { Run } from '../generation.js';
import type { ResponseFormat } from '../serve-generation.js';

export interface SglangMetaInfo {
  id: string;
  finish_reason: FinishReason | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  e2e_latency: number;
  input_token_logprobs?: TokenLogprob[];
  output_token_logprobs?: TokenLogprob[];
  input_top_logprobs?: (TokenLogprob[] | null)[];
  output_top_logprobs?: (TokenLogprob[] | null)[];
}

export interface SglangOutput {
  text: string;
  output_ids: number[];
  meta_info: SglangMetaInfo;
  index?: number;
}

export function sglangFormat(batch: boolean, stream: boolean): ResponseFormat {
  return {
    stream,
    chunks: (e) => (e.type === 'accepted' ? [] : [batch ? { ...sglangOutput(e.run), index: e.run.index } : sglangOutput(e.run)]),
    tail: () => [],
    body: (runs) => (batch ? runs.map(sglangOutput) : sglangOutput(runs[0])),
  };
}

function sglangOutput(run: Run): SglangOutput {
  const meta = run.meta;
  const info: SglangMetaInfo = {
    id: run.rid,
    finish_reason: meta?.finishReason ?? null,
    prompt_tokens: meta?.promptTokens ?? run.promptTokens,
    completion_tokens: meta?.completionTokens ?? run.outputIds.length,
    cached_tokens: meta?.cachedTokens ?? 0,
    e2e_latency: run.latencySeconds(),
  };
  if (run.request.returnLogprob) {
    info.input_token_logprobs = run.inputTokenLogprobs ?? [];
    info.output_token_logprobs = run.outputLogprobs;
    if (run.request.topLogprobsNum > 0) {
      info.input_top_logprobs = run.inputTopLogprobs ?? [];
      info.output_top_logprobs = run.outputTopLogprobs;
    }
  }
  return { text: run.text, output_ids: run.outputIds, meta_info: info };
}
