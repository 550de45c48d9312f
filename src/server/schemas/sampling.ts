/**
 * JSON schemas of SGLang's snake_case sampling parameters, shared by /generate's `sampling_params` and
 * the OpenAI routes (which accept the same names as SGLang's extra fields). Ranges live here; rules a
 * schema states badly (top_k: -1 or >= 1, token ids below the vocabulary size) are checked in
 * `sampling.ts`. Seeds are bounded to safe integers so they survive the trip through JS numbers.
 * As in SGLang, null means "the default" and `max_new_tokens: 0` is valid (the prompt is computed,
 * e.g. for its logprobs, and nothing is generated). SGLang's other sampling fields are accepted as
 * compat-fields.ts says.
 */
import { compatProperties, SAMPLING_COMPAT } from './compat-fields.js';

export const SEED_SCHEMA = { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } as const;
export const TOKEN_ID_SCHEMA = { type: 'integer', minimum: 0 } as const;
export const STOP_SCHEMA = { type: ['string', 'array'], items: { type: 'string', minLength: 1 } } as const;

export const SAMPLING_PROPERTIES = {
  max_new_tokens: { type: 'integer', minimum: 0 },
  temperature: { type: 'number', minimum: 0 },
  top_p: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  top_k: { type: 'integer', minimum: -1 },
  min_p: { type: 'number', minimum: 0, maximum: 1 },
  stop: STOP_SCHEMA,
  stop_token_ids: { type: 'array', items: TOKEN_ID_SCHEMA },
  ignore_eos: { type: 'boolean' },
  skip_special_tokens: { type: 'boolean' },
  seed: SEED_SCHEMA,
  /** SGLang's name for the seed. */
  sampling_seed: SEED_SCHEMA,
} as const;

/** The validated (still snake_case) sampling fields; null means "not given" (OpenAI clients send nulls). */
export interface SamplingInput {
  max_new_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  stop?: string | string[] | null;
  stop_token_ids?: number[] | null;
  ignore_eos?: boolean | null;
  skip_special_tokens?: boolean | null;
  seed?: number | null;
  sampling_seed?: number | null;
}

/** Adds null to a property schema's types: OpenAI clients send `null` for "use the default". */
function nullable<S extends { type: string | readonly string[] }>(schema: S): S {
  const types = typeof schema.type === 'string' ? [schema.type] : [...schema.type];
  return { ...schema, type: [...types, 'null'] };
}

export function nullableAll<P extends Record<string, { type: string | readonly string[] }>>(props: P): P {
  return Object.fromEntries(Object.entries(props).map(([k, s]) => [k, nullable(s)])) as P;
}

/** /generate's `sampling_params` object. */
export const SAMPLING_PARAMS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { ...nullableAll(SAMPLING_PROPERTIES), ...compatProperties(SAMPLING_COMPAT) },
} as const;
