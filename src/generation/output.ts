/**
 * What a generation produces, as every layer sees it: the sampler computes logprobs, the scheduler
 * actor reports them with the finish, the HTTP formats and the router render them. Domain types
 * (layer 2), so the sampler and the server need not import an actor's protocol for them.
 */

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
