/**
 * Messages between the HTTP front end (main thread) and the scheduler actor (worker thread).
 * One discriminated union per direction; everything is structured-clone safe.
 */
import type { ChatMessage } from '../../src/model/types.js';
import type { SamplingParams } from '../../src/sampling/params.js';

export type PromptInput =
  | { kind: 'text'; text: string }
  | { kind: 'ids'; ids: number[] }
  | { kind: 'chat'; messages: ChatMessage[] };

export interface GenerateRequest {
  /** Request id, unique while in flight (logged on every line about the request). */
  rid: string;
  input: PromptInput;
  sampling: SamplingParams;
  returnLogprob: boolean;
  /** Input logprobs start at this prompt position (SGLang `logprob_start_len`); -1: no input logprobs. */
  logprobStartLen: number;
  /** Top-k alternatives per position in logprob output (0: none). */
  topLogprobsNum: number;
  /** Fill the token text of logprob tuples (SGLang `return_text_in_logprobs`; OpenAI routes need it). */
  returnTextInLogprobs: boolean;
}

/** [logprob, token id, token text or null]: SGLang's logprob tuple (logprob null for the first prompt token). */
export type TokenLogprob = [number | null, number, string | null];

export type FinishReason =
  | { type: 'length'; length: number }
  | { type: 'stop'; matched: string | number | null }
  | { type: 'abort'; message: string };

export interface FinishMeta {
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  outputIds: number[];
  inputTokenLogprobs?: TokenLogprob[];
  inputTopLogprobs?: (TokenLogprob[] | null)[];
}

export interface SchedulerStats {
  running: number;
  waiting: number;
  totalPages: number;
  freePages: number;
  pageSize: number;
  maxTotalTokens: number;
  /** Requests whose pages are held (must be 0 when idle: no leaks). */
  pageTables: number;
}

export interface ModelInfo {
  modelPath: string;
  servedModelName: string;
  vocabSize: number;
  contextLength: number;
  numLayers: number;
  hiddenSize: number;
  kvLayout: { numLayers: number; entriesPerToken: number; dtype: string; pageSize: number };
  eosTokenIds: number[];
  engine: string;
}

/** Main thread -> scheduler. */
export type SchedulerInbound =
  | { type: 'generate'; req: GenerateRequest }
  | { type: 'abort'; rid: string; reason: string }
  | { type: 'stats'; seq: number }
  | { type: 'flush_cache'; seq: number }
  | { type: 'shutdown' };

/** Scheduler -> main thread. */
export type SchedulerOutbound =
  | { type: 'ready'; model: ModelInfo }
  | { type: 'init_failed'; message: string }
  /** The request is invalid (400 to the client); nothing was allocated for it. */
  | { type: 'rejected'; rid: string; message: string }
  | { type: 'accepted'; rid: string; promptTokens: number }
  /** New output tokens since the last event; `text` is the newly decoded text (may be '' while a UTF-8 sequence is incomplete). */
  | { type: 'tokens'; rid: string; ids: number[]; text: string; logprobs?: TokenLogprob[]; topLogprobs?: (TokenLogprob[] | null)[] }
  | { type: 'finished'; rid: string; meta: FinishMeta }
  /** Failed after acceptance (engine error, abort, pool can never fit it). */
  | { type: 'failed'; rid: string; message: string; status: number }
  | { type: 'stats'; seq: number; stats: SchedulerStats }
  | { type: 'flushed'; seq: number; ok: boolean };
