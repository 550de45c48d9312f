/**
 * PD control messages between a decode node (ZeroMQ DEALER, one per prefill node it talks to) and a
 * prefill node (ROUTER bound on its bootstrap port). Data never travels here, only page lists and
 * notices; versioned JSON frames, validated on receipt (a bad frame is logged and dropped).
 */
import type { FirstToken } from '../../actors/scheduler/protocol.js';
import type { KvLayoutInfo, ModelIdentity } from '../registry/protocol.js';
import { parseKvEndpoint } from '../transfer/backends.js';
import type { KvEndpoint } from '../transfer/kv-transfer.js';

export const CONTROL_PROTOCOL_VERSION = 1;

/** Decode -> prefill. */
export type DecodeToPrefill =
  | { v: 1; type: 'ping' }
  /**
   * Pages reserved for a room and how to write them; model and layout for the handshake check.
   * `writer`: the token the decode node minted for this prefill node; its KV link presents it, and
   * the decode node's receiver takes writes of the room only from links presenting it.
   */
  | { v: 1; type: 'kv_request'; room: string; pageIds: number[]; endpoint: KvEndpoint; model: ModelIdentity; kvLayout: KvLayoutInfo; writer: string }
  | { v: 1; type: 'room_failed'; room: string; message: string };

/** Prefill -> decode. */
export type PrefillToDecode =
  | { v: 1; type: 'pong' }
  | { v: 1; type: 'kv_done'; room: string; first: FirstToken; bytes: number; runs: number; transferMs: number; writeMs: number; exposedMs: number }
  /** `retryAfterSecs`: the prefill node gave the room up because it is full (decode answers 503, not 502). */
  | { v: 1; type: 'room_failed'; room: string; message: string; retryAfterSecs?: number };

type Check = (v: unknown) => boolean;
const isString: Check = (v) => typeof v === 'string';
const isCount: Check = (v) => Number.isInteger(v) && (v as number) >= 0;
const isNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const isPositiveCount: Check = (v) => isCount(v) && (v as number) > 0;
const optional = (check: Check): Check => (v) => v === undefined || check(v);
const isRoom: Check = (v) => typeof v === 'string' && /^\d{1,19}$/.test(v);
const isWriter: Check = (v) => typeof v === 'string' && /^[0-9a-f]{32}$/.test(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPageList: Check = (v) => Array.isArray(v) && v.length > 0 && v.every(isCount);
const isTokenLogprob: Check = (v) => Array.isArray(v) && v.length === 3 && (v[0] === null || isNumber(v[0])) && isCount(v[1]) && (v[2] === null || isString(v[2]));
const isFirst: Check = (v) =>
  isObject(v) && isCount(v.id) && isCount(v.draws) && (v.logprob === undefined || isTokenLogprob(v.logprob)) &&
  (v.topLogprobs === undefined || v.topLogprobs === null || (Array.isArray(v.topLogprobs) && v.topLogprobs.every(isTokenLogprob)));
const isModel: Check = (v) => isObject(v) && isString(v.fingerprint) && isString(v.servedModelName);
const isLayout: Check = (v) => isObject(v) && isCount(v.numLayers) && isCount(v.entriesPerToken) && isString(v.dtype) && isCount(v.pageSize);

const FIELDS: Record<string, Record<string, Check>> = {
  ping: {},
  pong: {},
  kv_request: { room: isRoom, pageIds: isPageList, model: isModel, kvLayout: isLayout, writer: isWriter },
  kv_done: { room: isRoom, first: isFirst, bytes: isCount, runs: isCount, transferMs: isNumber, writeMs: isNumber, exposedMs: isNumber },
  room_failed: { room: isRoom, message: isString, retryAfterSecs: optional(isPositiveCount) },
};

const DECODE_TO_PREFILL = new Set(['ping', 'kv_request', 'room_failed']);
const PREFILL_TO_DECODE = new Set(['pong', 'kv_done', 'room_failed']);

function parse(frame: Buffer, allowed: Set<string>): { msg: Record<string, unknown> } | { error: string } {
  let msg: unknown;
  try {
    msg = JSON.parse(frame.toString('utf8'));
  } catch {
    return { error: 'not JSON' };
  }
  if (!isObject(msg)) return { error: 'not an object' };
  if (msg.v !== CONTROL_PROTOCOL_VERSION) return { error: `protocol version ${String(msg.v)}, expected ${CONTROL_PROTOCOL_VERSION}` };
  if (typeof msg.type !== 'string' || !allowed.has(msg.type)) return { error: `unexpected message type ${String(msg.type)}` };
  for (const [field, check] of Object.entries(FIELDS[msg.type])) if (!check(msg[field])) return { error: `${msg.type}.${field} is missing or malformed` };
  // The endpoint is its backend's to check (src/transfer/backends.ts); only the parsed copy goes on.
  if (msg.type === 'kv_request') {
    try {
      msg.endpoint = parseKvEndpoint(msg.endpoint, 'kv_request.endpoint');
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
  return { msg };
}

export function parseDecodeToPrefill(frame: Buffer): { msg: DecodeToPrefill } | { error: string } {
  return parse(frame, DECODE_TO_PREFILL) as { msg: DecodeToPrefill } | { error: string };
}

export function parsePrefillToDecode(frame: Buffer): { msg: PrefillToDecode } | { error: string } {
  return parse(frame, PREFILL_TO_DECODE) as { msg: PrefillToDecode } | { error: string };
}
