/**
 * Turns ajv's first validation error into a message that names the field the way the client wrote it
 * (`sampling_params.temperature`, `input_ids[2]`), instead of ajv's JSON-pointer wording.
 * Schemas avoid anyOf/oneOf so that the first error is always the meaningful one.
 */
import type { FastifySchemaValidationError } from 'fastify';

export interface FieldError {
  message: string;
  param: string | null;
}

export function describeValidationError(errors: readonly FastifySchemaValidationError[]): FieldError {
  const e = errors[0];
  if (e === undefined) return { message: 'invalid request body', param: null };
  const path = fieldPath(e.instancePath);
  const label = path ?? 'request body';
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const field = join(path, String(params.missingProperty));
      return { message: `${field} is required`, param: field };
    }
    case 'additionalProperties': {
      const field = join(path, String(params.additionalProperty));
      return { message: `unknown field ${field}`, param: field };
    }
    case 'type':
      return { message: `${label} must be ${String(params.type).split(',').join(' or ')}`, param: path };
    case 'minLength':
    case 'minItems':
      if (params.limit === 1) return { message: `${label} must not be empty`, param: path };
      break;
    case 'enum':
      return { message: `${label} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`, param: path };
    case 'const':
      return { message: `${label} must be ${JSON.stringify(params.allowedValue)}`, param: path };
  }
  return { message: `${label} ${e.message ?? 'is invalid'}`, param: path };
}

/** `/sampling_params/stop/1` -> `sampling_params.stop[1]`; '' (the body itself) -> null. */
function fieldPath(pointer: string): string | null {
  if (pointer === '') return null;
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

function join(path: string | null, field: string): string {
  return path === null ? field : `${path}.${field}`;
}
