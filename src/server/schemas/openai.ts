/**
 * Body schemas of the OpenAI-compatible routes. Every optional field also accepts null ("default"),
 * as OpenAI's own API does. Besides OpenAI's names, SGLang's extra sampling fields (top_k, min_p,
 * stop_token_ids, ignore_eos, skip_special_tokens) and `rid` are implemented. Every other field of
 * SGLang's CompletionRequest / ChatCompletionRequest and of OpenAI's API is accepted as
 * compat-fields.ts says: hints are ignored, features without an implementation here (tools,
 * response_format, logit_bias, echo, best_of > 1, ...) are accepted "off" and otherwise a 400 naming
 * the field. Penalties are accepted only as 0 (checked in code) because clients often send 0
 * explicitly. `max_tokens: 0` is accepted, as /generate's `max_new_tokens: 0`: the prompt is
 * computed (e.g. for its logprobs) and nothing is generated.
 */
import { PD_PROPERTIES, type PdBody } from '../pd-fields.js';
import { CHAT_COMPAT, COMPLETION_COMPAT, compatProperties, MESSAGE_COMPAT } from './compat-fields.js';
import { nullableAll, SAMPLING_PROPERTIES, SEED_SCHEMA, STOP_SCHEMA, TOKEN_ID_SCHEMA, type SamplingInput } from './sampling.js';

/** OpenAI caps alternatives per position at 20; the same cap keeps responses bounded here. */
const MAX_TOP_LOGPROBS = 20;

const COMMON_PROPERTIES = {
  model: { type: 'string' },
  max_tokens: { type: 'integer', minimum: 0 },
  temperature: SAMPLING_PROPERTIES.temperature,
  top_p: SAMPLING_PROPERTIES.top_p,
  n: { type: 'integer', minimum: 1 },
  stop: STOP_SCHEMA,
  seed: SEED_SCHEMA,
  stream: { type: 'boolean' },
  // continuous_usage_stats (SGLang, vLLM): only false is accepted, checked in code.
  stream_options: { type: 'object', additionalProperties: false, properties: { include_usage: { type: ['boolean', 'null'] }, continuous_usage_stats: { type: ['boolean', 'null'] } } },
  presence_penalty: { type: 'number' },
  frequency_penalty: { type: 'number' },
  user: { type: 'string' },
  top_k: SAMPLING_PROPERTIES.top_k,
  min_p: SAMPLING_PROPERTIES.min_p,
  stop_token_ids: SAMPLING_PROPERTIES.stop_token_ids,
  ignore_eos: SAMPLING_PROPERTIES.ignore_eos,
  skip_special_tokens: SAMPLING_PROPERTIES.skip_special_tokens,
  rid: { type: ['string', 'array'], minLength: 1, minItems: 1, items: { type: 'string', minLength: 1 } },
} as const;

export const COMPLETION_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['prompt'],
  properties: {
    ...compatProperties(COMPLETION_COMPAT),
    ...nullableAll(COMMON_PROPERTIES),
    ...PD_PROPERTIES,
    // A string, a list of strings, a list of ids, or a list of lists of ids (checked in code).
    prompt: {
      type: ['string', 'array'],
      minLength: 1,
      minItems: 1,
      items: { type: ['string', 'integer', 'array'], minLength: 1, minimum: 0, minItems: 1, items: TOKEN_ID_SCHEMA },
    },
    logprobs: { type: ['integer', 'null'], minimum: 0, maximum: MAX_TOP_LOGPROBS },
  },
} as const;

export const CHAT_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['messages'],
  properties: {
    ...compatProperties(CHAT_COMPAT),
    ...nullableAll(COMMON_PROPERTIES),
    ...PD_PROPERTIES,
    max_completion_tokens: { type: ['integer', 'null'], minimum: 0 },
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['role', 'content'],
        properties: {
          ...compatProperties(MESSAGE_COMPAT),
          role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant'] },
          // A string or a list of text parts (what newer clients send); other part types are refused.
          content: {
            type: ['string', 'array'],
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['type', 'text'],
              properties: { type: { type: 'string', enum: ['text'] }, text: { type: 'string' } },
            },
          },
          name: { type: ['string', 'null'] },
        },
      },
    },
    logprobs: { type: ['boolean', 'null'] },
    top_logprobs: { type: ['integer', 'null'], minimum: 0, maximum: MAX_TOP_LOGPROBS },
  },
} as const;

type Nullable<T> = { [K in keyof T]?: T[K] | null };

export type OpenAiCommonBody = Nullable<{
  model: string;
  max_tokens: number;
  n: number;
  stream: boolean;
  stream_options: { include_usage?: boolean | null; continuous_usage_stats?: boolean | null };
  presence_penalty: number;
  frequency_penalty: number;
  user: string;
  rid: string | string[];
}> &
  Pick<SamplingInput, 'temperature' | 'top_p' | 'top_k' | 'min_p' | 'stop' | 'stop_token_ids' | 'ignore_eos' | 'skip_special_tokens' | 'seed'>;

export interface CompletionBody extends OpenAiCommonBody, PdBody {
  prompt: string | (string | number | number[])[];
  logprobs?: number | null;
}

export interface ChatBody extends OpenAiCommonBody, PdBody {
  messages: { role: string; content: string | { type: 'text'; text: string }[]; name?: string }[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
}
