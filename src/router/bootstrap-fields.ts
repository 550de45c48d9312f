/**
 * The PD bootstrap fields the router adds to a generation request: `bootstrap_host` and
 * `bootstrap_port` (where the decode node finds the prefill node) and `bootstrap_room` (the id both
 * nodes use for this request's KV transfer). Decisions:
 * - A room is 63 random bits from the OS CSPRNG (drawn in blocks: secure-random-pool.ts): unguessable,
 *   and in [0, 2^63) as nodes require.
 * - Rooms exceed 2^53, so they never become JS numbers: the body sent upstream is the client's JSON
 *   text, byte for byte, with the fields appended as literal text before its closing brace. The
 *   client's own big integers (e.g. a seed) survive the same way.
 * - A client must not set these fields (the router owns them): a body with one is refused (400), not
 *   silently overridden. Null (or a list of nulls) is SGLang's "not given" and is accepted: the
 *   router's own fields are appended after it, and a repeated JSON key takes its last value
 *   (ECMA-262 JSON.parse, as the nodes parse; Python's json too).
 * - A batch (a list of prompts: `text` as a list, `input_ids` or `prompt` as a list of lists, `prompt`
 *   as a list of strings) gets lists, one host, port and room per prompt, as SGLang's router sends.
 */
import { secureRandomU64 } from '../random/secure-random-pool.js';
import { HttpError } from '../server/errors.js';

export const BOOTSTRAP_FIELDS = ['bootstrap_host', 'bootstrap_port', 'bootstrap_room'] as const;

export function refuseBootstrapFields(body: Readonly<Record<string, unknown>>): void {
  for (const field of BOOTSTRAP_FIELDS) if (given(body[field])) throw new HttpError(400, `${field} is set by the router; remove it from the request`, field);
}

/** Not SGLang's "not given": null, or a list of nulls. */
function given(v: unknown): boolean {
  return v !== undefined && v !== null && !(Array.isArray(v) && v.every((x) => x === null));
}

/** The fields that make a body a batch when they hold a list of prompts. */
const BATCH_FIELDS = ['text', 'input_ids', 'prompt'] as const;

export function mintRoom(): bigint {
  return secureRandomU64() >> 1n;
}

/** The number of prompts when the body is a batch; null for a single prompt. */
export function batchSize(body: Readonly<Record<string, unknown>>): number | null {
  for (const field of BATCH_FIELDS) {
    const value = body[field];
    if (Array.isArray(value) && value.length > 0 && (typeof value[0] === 'string' || Array.isArray(value[0]))) return value.length;
  }
  return null;
}

export interface Bootstrap {
  host: string;
  port: number;
  /** One room for a single prompt, one per prompt for a batch. */
  rooms: readonly bigint[];
  batch: boolean;
}

/** `text` is the client's JSON object text, `empty` whether that object has no keys. */
export function withBootstrap(text: string, empty: boolean, b: Bootstrap): string {
  const body = text.trimEnd();
  if (!body.endsWith('}')) throw new Error('withBootstrap: the body is not a JSON object');
  const host = JSON.stringify(b.host);
  const fields = b.batch
    ? `"bootstrap_host":[${b.rooms.map(() => host).join(',')}],"bootstrap_port":[${b.rooms.map(() => b.port).join(',')}],"bootstrap_room":[${b.rooms.join(',')}]`
    : `"bootstrap_host":${host},"bootstrap_port":${b.port},"bootstrap_room":${b.rooms[0]}`;
  return `${body.slice(0, -1)}${empty ? '' : ','}${fields}}`;
}
