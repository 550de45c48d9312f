/**
 * Field readers for the endpoint parsers of the backends (each descriptor's `parseEndpoint`). An
 * endpoint reaches a node in a peer's message, so every field is checked before anything dials or
 * maps it; a failure names the field by its path (`kv_request.endpoint.devices[0].gid`).
 */
export type EndpointFields = Readonly<Record<string, unknown>>;

export class EndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

export function fieldsAt(value: unknown, path: string): EndpointFields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EndpointError(`${path} must be an object`);
  return value as EndpointFields;
}

export function nonEmptyText(o: EndpointFields, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new EndpointError(`${path}.${key} must be a non-empty string`);
  return v;
}

/** A string matching `pattern`, which `what` describes. */
export function textMatching(o: EndpointFields, key: string, path: string, pattern: RegExp, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !pattern.test(v)) throw new EndpointError(`${path}.${key} must be ${what}`);
  return v;
}

export function integerIn(o: EndpointFields, key: string, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
    throw new EndpointError(`${path}.${key} must be an integer ${max < Number.MAX_SAFE_INTEGER ? `in [${min}, ${max}]` : `>= ${min}`}`);
  }
  return v as number;
}

export function listAt(o: EndpointFields, key: string, path: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new EndpointError(`${path}.${key} must be an array`);
  return v;
}
