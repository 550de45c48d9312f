/**
 * Client prompts -> `PromptInput[]`, shared by /generate (`text` / `input_ids`) and /v1/completions
 * (`prompt`). A list of prompts is a batch and gets a list back; a batch is capped at
 * `maxBatchSize`. Token ids are checked against the vocabulary here so a bad id is a 400 before
 * anything reaches the scheduler.
 */
import type { PromptInput } from '../../actors/scheduler/protocol.js';
import { HttpError } from './errors.js';

export interface Prompts {
  inputs: PromptInput[];
  /** The client sent a list of prompts: answer with a list (or one choice per prompt). */
  batch: boolean;
}

export interface PromptLimits {
  vocabSize: number;
  maxBatchSize: number;
}

/** `/generate`: exactly one of `text` and `input_ids`. */
export function generatePrompts(text: string | string[] | undefined, inputIds: (number | number[])[] | undefined, limits: PromptLimits): Prompts {
  if ((text === undefined) === (inputIds === undefined)) {
    throw new HttpError(400, 'give exactly one of text and input_ids', text === undefined ? 'text' : 'input_ids');
  }
  return text !== undefined ? textPrompts(text, 'text', limits) : idPrompts(inputIds ?? [], 'input_ids', limits);
}

/** `/v1/completions`: `prompt` is text, ids, or a list of either (not mixed). */
export function completionPrompts(prompt: string | (string | number | number[])[], limits: PromptLimits): Prompts {
  if (typeof prompt === 'string' || prompt.every((p) => typeof p === 'string')) return textPrompts(prompt as string | string[], 'prompt', limits);
  if (prompt.some((p) => typeof p === 'string')) throw new HttpError(400, 'prompt must not mix strings and token ids', 'prompt');
  return idPrompts(prompt as (number | number[])[], 'prompt', limits);
}

function textPrompts(text: string | string[], field: string, limits: PromptLimits): Prompts {
  if (typeof text === 'string') return { inputs: [{ kind: 'text', text }], batch: false };
  checkBatchSize(text.length, field, limits);
  return { inputs: text.map((t) => ({ kind: 'text', text: t })), batch: true };
}

function idPrompts(ids: (number | number[])[], field: string, limits: PromptLimits): Prompts {
  if (ids.every((x) => typeof x === 'number')) {
    checkVocab(ids as number[], field, limits.vocabSize);
    return { inputs: [{ kind: 'ids', ids: ids as number[] }], batch: false };
  }
  if (!ids.every((x) => Array.isArray(x))) throw new HttpError(400, `${field} must be a list of token ids or a list of such lists, not a mix`, field);
  const lists = ids as number[][];
  checkBatchSize(lists.length, field, limits);
  lists.forEach((list, i) => checkVocab(list, `${field}[${i}]`, limits.vocabSize));
  return { inputs: lists.map((list) => ({ kind: 'ids', ids: list })), batch: true };
}

function checkBatchSize(size: number, field: string, limits: PromptLimits): void {
  if (size > limits.maxBatchSize) throw new HttpError(400, `${field} holds ${size} prompts; this server takes at most ${limits.maxBatchSize} per request`, field);
}

function checkVocab(ids: readonly number[], field: string, vocabSize: number): void {
  const i = ids.findIndex((id) => id >= vocabSize);
  if (i >= 0) throw new HttpError(400, `${field}[${i}] is ${ids[i]}, outside the vocabulary (size ${vocabSize})`, field);
}
