/**
 * Body schema of SGLang's POST /generate. Unknown fields are refused (400 naming the field) rather
 * than ignored, so a misspelled or unsupported parameter never silently does nothing. Decisions:
 * `sampling_params` is one object for the whole batch (no per-item list); `rid` is a string for a
 * single prompt or a list for a batch. "Exactly one of text / input_ids", ids below the vocabulary
 * size and the batch limit are checked in code (prompt-input.ts).
 */
import { PD_PROPERTIES, type PdBody } from '../pd-fields.js';
import { SAMPLING_PROPERTIES, TOKEN_ID_SCHEMA, type SamplingInput } from './sampling.js';

export const GENERATE_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    text: { type: ['string', 'array'], minLength: 1, minItems: 1, items: { type: 'string', minLength: 1 } },
    input_ids: {
      type: 'array',
      minItems: 1,
      // A list of ids, or a list of lists of ids (a batch); mixing both is refused in code.
      items: { type: ['integer', 'array'], minimum: 0, minItems: 1, items: TOKEN_ID_SCHEMA },
    },
    sampling_params: { type: 'object', additionalProperties: false, properties: SAMPLING_PROPERTIES },
    stream: { type: 'boolean' },
    return_logprob: { type: 'boolean' },
    logprob_start_len: { type: 'integer', minimum: -1 },
    top_logprobs_num: { type: 'integer', minimum: 0 },
    return_text_in_logprobs: { type: 'boolean' },
    ...PD_PROPERTIES,
    rid: { type: ['string', 'array'], minLength: 1, minItems: 1, items: { type: 'string', minLength: 1 } },
  },
} as const;

export interface GenerateBody extends PdBody {
  text?: string | string[];
  input_ids?: (number | number[])[];
  sampling_params?: SamplingInput;
  stream?: boolean;
  return_logprob?: boolean;
  logprob_start_len?: number;
  top_logprobs_num?: number;
  return_text_in_logprobs?: boolean;
  rid?: string | string[];
}
