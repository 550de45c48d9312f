/** Sampling parameters after validation (SGLang's `sampling_params`, camelCased, defaults applied). */
export interface SamplingParams {
  maxNewTokens: number;
  /** 0 means greedy. */
  temperature: number;
  topP: number;
  /** -1 or 0 means no top-k cut. */
  topK: number;
  minP: number;
  /** Per-request seed; null draws from the request id so a request is still reproducible from its logs. */
  seed: number | null;
  stop: string[];
  stopTokenIds: number[];
  ignoreEos: boolean;
  skipSpecialTokens: boolean;
}

export const DEFAULT_SAMPLING: Readonly<SamplingParams> = Object.freeze({
  maxNewTokens: 128,
  temperature: 1,
  topP: 1,
  topK: -1,
  minP: 0,
  seed: null,
  stop: [],
  stopTokenIds: [],
  ignoreEos: false,
  skipSpecialTokens: true,
});
