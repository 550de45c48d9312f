/**
 * snake_case sampling fields (already range-checked by the schema) -> `SamplingParams`.
 * Shared by /generate and the OpenAI routes; null or absent fields take the defaults.
 */
import { DEFAULT_SAMPLING, type SamplingParams } from '../sampling/params.js';
import { HttpError } from './errors.js';
import type { SamplingInput } from './schemas/sampling.js';

/**
 * @param prefix how the client names the fields' parent, for error messages ('sampling_params.' or '').
 * @param defaults OpenAI completions default to 16 new tokens, unlike SGLang.
 */
export function toSamplingParams(input: SamplingInput, vocabSize: number, prefix: string, defaults: Readonly<SamplingParams> = DEFAULT_SAMPLING): SamplingParams {
  const topK = input.top_k ?? defaults.topK;
  if (topK === 0) throw new HttpError(400, `${prefix}top_k must be -1 (no cut) or at least 1 (got 0)`, `${prefix}top_k`);
  const stopTokenIds = input.stop_token_ids ?? defaults.stopTokenIds;
  const outOfVocab = stopTokenIds.findIndex((id) => id >= vocabSize);
  if (outOfVocab >= 0) {
    throw new HttpError(400, `${prefix}stop_token_ids[${outOfVocab}] is ${stopTokenIds[outOfVocab]}, outside the vocabulary (size ${vocabSize})`, `${prefix}stop_token_ids`);
  }
  const seed = input.sampling_seed ?? input.seed ?? defaults.seed;
  if (input.sampling_seed != null && input.seed != null && input.sampling_seed !== input.seed) {
    throw new HttpError(400, `${prefix}seed and ${prefix}sampling_seed name the same seed; give one (got ${input.seed} and ${input.sampling_seed})`, `${prefix}sampling_seed`);
  }
  const stop = input.stop ?? defaults.stop;
  return {
    maxNewTokens: input.max_new_tokens ?? defaults.maxNewTokens,
    temperature: input.temperature ?? defaults.temperature,
    topP: input.top_p ?? defaults.topP,
    topK,
    minP: input.min_p ?? defaults.minP,
    seed,
    stop: typeof stop === 'string' ? [stop] : [...stop],
    stopTokenIds: [...stopTokenIds],
    ignoreEos: input.ignore_eos ?? defaults.ignoreEos,
    skipSpecialTokens: input.skip_special_tokens ?? defaults.skipSpecialTokens,
  };
}
