/**
 * OpenAI `chat.completion` responses, whole and streamed. The stream sends, per choice, a first chunk
 * with `delta.role` ('assistant') when the scheduler accepts the request, content deltas, then an
 * empty delta with the finish_reason. Logprobs use the chat shape (`content: [{ token, logprob,
 * bytes, top_logprobs }]`).
 */
import type { TokenLogprob } from '../../generation/output.js';
import type { Run } from '../generation.js';
import type { ResponseFormat } from '../serve-generation.js';
import { chunkHead, finishReason, tokenText, usage, usageChunk, type OpenAiResponseInfo } from './openai-common.js';

const OBJECT = 'chat.completion';
const CHUNK_OBJECT = 'chat.completion.chunk';

interface ChatTokenLogprob {
  token: string;
  // null only for a prompt's first token, which chat output never contains.
  logprob: number | null;
  bytes: number[];
}

interface ChatLogprobs {
  content: (ChatTokenLogprob & { top_logprobs: ChatTokenLogprob[] })[];
}

export function chatFormat(info: OpenAiResponseInfo): ResponseFormat {
  const choiceChunk = (run: Run, delta: { role?: string; content?: string }, logprobs: ChatLogprobs | null, finish: string | null): unknown => ({
    ...chunkHead(info, CHUNK_OBJECT),
    choices: [{ index: run.index, delta, logprobs, finish_reason: finish }],
  });
  return {
    stream: info.stream,
    chunks(e) {
      switch (e.type) {
        case 'accepted':
          return [choiceChunk(e.run, { role: 'assistant', content: '' }, null, null)];
        case 'tokens':
          if (!e.run.request.returnLogprob) return e.text === '' ? [] : [choiceChunk(e.run, { content: e.text }, null, null)];
          return [choiceChunk(e.run, { content: e.text }, chatLogprobs(e.logprobs, e.topLogprobs), null)];
        case 'finished':
          return [choiceChunk(e.run, {}, null, finishReason(e.run))];
        case 'error':
          return [];
      }
    },
    tail: (runs) => usageChunk(info, CHUNK_OBJECT, runs),
    body: (runs) => ({
      id: info.id,
      object: OBJECT,
      created: info.created,
      model: info.model,
      choices: runs.map((run) => ({
        index: run.index,
        message: { role: 'assistant', content: run.text },
        logprobs: run.request.returnLogprob ? chatLogprobs(run.outputLogprobs, run.outputTopLogprobs) : null,
        finish_reason: finishReason(run),
      })),
      usage: usage(runs),
    }),
  };
}

function chatLogprobs(lps: readonly TokenLogprob[], tops: readonly (TokenLogprob[] | null)[]): ChatLogprobs {
  return { content: lps.map((lp, i) => ({ ...chatToken(lp), top_logprobs: (tops[i] ?? []).map(chatToken) })) };
}

function chatToken(lp: TokenLogprob): ChatTokenLogprob {
  const token = tokenText(lp);
  return { token, logprob: lp[0], bytes: [...Buffer.from(token, 'utf8')] };
}
