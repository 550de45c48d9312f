/**
 * Body schema of SGLang's POST /generate. Every field of SGLang's GenerateReqInput is accepted: the
 * ones below are implemented, the rest are accepted as compat-fields.ts says (ignored hints, or
 * features accepted only "off"). A field SGLang does not define is refused (400 naming the field),
 * so a misspelled parameter never silently does nothing. As in SGLang, null means "the default".
 * Decisions: `sampling_params` and the logprob settings are one value for the whole batch (no
 * per-prompt lists); `rid` is a string for a single prompt or a list for a batch. "Exactly one of
 * text / input_ids", ids below the vocabulary size and the batch limit are checked in code
 * (prompt-input.ts).
 */
import { PD_PROPERTIES, type PdBody } from '../pd-fields.js';
import { compatProperties, GENERATE_COMPAT } from './compat-fields.js';
import { nullableAll, SAMPLING_PARAMS_SCHEMA, TOKEN_ID_SCHEMA, type SamplingInput } from './sampling.js';

const IMPLEMENTED = {
  text: { type: ['string', 'array'], minLength: 1, minItems: 1, items: { type: 'string', minLength: 1 } },
  input_ids: {
    type: 'array',
    minItems: 1,
    // A list of ids, or a list of lists of ids (a batch); mixing both is refused in code.
    items: { type: ['integer', 'array'], minimum: 0, minItems: 1, items: TOKEN_ID_SCHEMA },
  },
  sampling_params: SAMPLING_PARAMS_SCHEMA,
  stream: { type: 'boolean' },
  return_logprob: { type: 'boolean' },
  logprob_start_len: { type: 'integer', minimum: -1 },
  top_logprobs_num: { type: 'integer', minimum: 0 },
  return_text_in_logprobs: { type: 'boolean' },
  rid: { type: ['string', 'array'], minLength: 1, minItems: 1, items: { type: 'string', minLength: 1 } },
} as const;

export const GENERATE_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...compatProperties(GENERATE_COMPAT),
    ...nullableAll(IMPLEMENTED),
    ...PD_PROPERTIES,
  },
} as const;

export interface GenerateBody extends PdBody {
  text?: string | string[] | null;
  input_ids?: (number | number[])[] | null;
  sampling_params?: SamplingInput | null;
  stream?: boolean | null;
  return_logprob?: boolean | null;
  logprob_start_len?: number | null;
  top_logprobs_num?: number | null;
  return_text_in_logprobs?: boolean | null;
  rid?: string | string[] | null;
}
