/**
 * OpenAI `text_completion` responses, whole and streamed (one choice per prompt, `index` = prompt
 * position). Streamed chunks carry the new text only; a chunk whose new text is empty (an incomplete
 * UTF-8 sequence) is skipped unless it carries logprobs. Logprobs use the legacy completions shape
 * (`tokens`, `token_logprobs`, `top_logprobs`, `text_offset`).
 */
import type { TokenLogprob } from '../../generation/output.js';
import type { Run } from '../generation.js';
import type { ResponseFormat } from '../serve-generation.js';
import { chunkHead, finishReason, tokenText, usage, usageChunk, type OpenAiResponseInfo } from './openai-common.js';

const OBJECT = 'text_completion';

interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: Record<string, number | null>[] | null;
  text_offset: number[];
}

export function completionFormat(info: OpenAiResponseInfo): ResponseFormat {
  const choiceChunk = (run: Run, text: string, logprobs: CompletionLogprobs | null, finish: string | null): unknown => ({
    ...chunkHead(info, OBJECT),
    choices: [{ index: run.index, text, logprobs, finish_reason: finish }],
  });
  return {
    stream: info.stream,
    chunks(e) {
      if (e.type === 'tokens') {
        if (!e.run.request.returnLogprob) return e.text === '' ? [] : [choiceChunk(e.run, e.text, null, null)];
        const offset = e.run.text.length - e.text.length;
        return [choiceChunk(e.run, e.text, completionLogprobs(e.run, e.logprobs, e.topLogprobs, offset), null)];
      }
      if (e.type === 'finished') return [choiceChunk(e.run, '', null, finishReason(e.run))];
      return [];
    },
    tail: (runs) => usageChunk(info, OBJECT, runs),
    body: (runs) => ({
      id: info.id,
      object: OBJECT,
      created: info.created,
      model: info.model,
      choices: runs.map((run) => ({
        index: run.index,
        text: run.text,
        logprobs: run.request.returnLogprob ? completionLogprobs(run, run.outputLogprobs, run.outputTopLogprobs, 0) : null,
        finish_reason: finishReason(run),
      })),
      usage: usage(runs),
    }),
  };
}

/** `offset`: where the first of these tokens starts in the completion text. */
function completionLogprobs(run: Run, lps: readonly TokenLogprob[], tops: readonly (TokenLogprob[] | null)[], offset: number): CompletionLogprobs {
  const tokens = lps.map(tokenText);
  const textOffset: number[] = [];
  for (const token of tokens) {
    textOffset.push(offset);
    offset += token.length;
  }
  return {
    tokens,
    token_logprobs: lps.map((lp) => lp[0]),
    top_logprobs: run.request.topLogprobsNum > 0 ? tops.map((top) => Object.fromEntries((top ?? []).map((lp) => [tokenText(lp), lp[0]]))) : null,
    text_offset: textOffset,
  };
}
