/**
 * Registry wire messages: one JSON frame per message, checked by hand before anything trusts it.
 *
 * Decisions:
 * - A frame over MAX_FRAME_BYTES (64 KiB) is refused before JSON.parse: a node record is a few hundred
 *   bytes, so anything larger is a bug or abuse and must not cost the registry a big parse.
 * - `v` other than 1 is a `version` error, everything else wrong is `bad_request`; the reason names
 *   the exact field (`register.node.httpUrl must be a string`) so a misconfigured node can tell why.
 * - A failed parse still echoes `seq` when the frame had a usable one, else 0: clients number their
 *   requests from 1, so a seq-0 reply never matches a pending request and is dropped as stale.
 * - Parsing builds fresh objects holding only the known fields: unknown fields are ignored (and not
 *   stored), so a record in the registry is exactly a `NodeRecord` and nothing a peer slipped in.
 * - Changes carry the record's owner token (protocol.ts); a request without one is a bad_request.
 * - Replies are parsed with the same checks (a client trusts nothing it did not validate), but they
 *   have no size limit here: a query over many nodes may legitimately exceed 64 KiB.
 */
import {
  REGISTRY_PROTOCOL_VERSION,
  type KvLayoutInfo,
  type ModelIdentity,
  type NodeRecord,
  type RegisteredRole,
  type RegistryReply,
  type RegistryRequest,
} from './protocol.js';

export const MAX_FRAME_BYTES = 64 * 1024;
export const OWNER_TOKEN = /^[0-9a-f]{32}$/;

export type ErrorCode = Extract<RegistryReply, { type: 'error' }>['code'];

export type Parsed<T> = { ok: true; value: T } | { ok: false; seq: number; code: 'bad_request' | 'version'; reason: string };

type Fields = Record<string, unknown>;

/** Thrown inside the checks below and turned into a `Parsed` failure at the top. */
class Invalid extends Error {
  constructor(
    readonly code: 'bad_request' | 'version',
    reason: string,
  ) {
    super(reason);
  }
}

const ROLES: readonly RegisteredRole[] = ['prefill', 'decode'];
const ERROR_CODES: readonly ErrorCode[] = ['unknown_node', 'not_owner', 'url_in_use', 'unreachable_address', 'bad_request', 'version'];

export function encodeMessage(msg: RegistryRequest | RegistryReply): Buffer {
  return Buffer.from(JSON.stringify(msg));
}

export function parseRequest(frame: Buffer): Parsed<RegistryRequest> {
  if (frame.length > MAX_FRAME_BYTES) return tooLarge(frame);
  return parseWith(frame, readRequest);
}

export function parseReply(frame: Buffer): Parsed<RegistryReply> {
  return parseWith(frame, readReply);
}

/** The same checks the registry applies, for a node to refuse its own bad record before sending it. */
export function checkNodeRecord(value: unknown): string | null {
  try {
    readNodeRecord(value, 'node');
    return null;
  } catch (err) {
    if (err instanceof Invalid) return err.message;
    throw err;
  }
}

/** checkNodeRecord for a record read from elsewhere (etcd): a fresh record of the known fields only, or the problem. */
export function readStoredNodeRecord(value: unknown): { ok: true; record: NodeRecord } | { ok: false; problem: string } {
  try {
    return { ok: true, record: readNodeRecord(value, 'node') };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, problem: err.message };
    throw err;
  }
}

function tooLarge(frame: Buffer): Parsed<never> {
  return { ok: false, seq: 0, code: 'bad_request', reason: `frame of ${frame.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit` };
}

function parseWith<T>(frame: Buffer, read: (msg: Fields, seq: number) => T): Parsed<T> {
  let json: unknown;
  try {
    json = JSON.parse(frame.toString('utf8'));
  } catch {
    return { ok: false, seq: 0, code: 'bad_request', reason: 'frame is not JSON' };
  }
  const seq = isObject(json) && isSeq(json.seq) ? json.seq : 0;
  try {
    const msg = asObject(json, 'message');
    if (msg.v !== REGISTRY_PROTOCOL_VERSION) {
      if (msg.v === undefined) throw new Invalid('bad_request', `v is missing (protocol version ${REGISTRY_PROTOCOL_VERSION})`);
      throw new Invalid('version', `protocol version ${JSON.stringify(msg.v)} is not supported (this side speaks ${REGISTRY_PROTOCOL_VERSION})`);
    }
    if (!isSeq(msg.seq)) throw new Invalid('bad_request', 'seq must be a non-negative integer');
    return { ok: true, value: read(msg, msg.seq) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, seq, code: err.code, reason: err.message };
    throw err;
  }
}

function readRequest(msg: Fields, seq: number): RegistryRequest {
  const v = REGISTRY_PROTOCOL_VERSION;
  switch (msg.type) {
    case 'register':
      return { v, seq, type: 'register', node: readNodeRecord(msg.node, 'register.node'), owner: ownerToken(msg, 'register') };
    case 'heartbeat':
    case 'deregister':
      return { v, seq, type: msg.type, id: nonEmptyString(msg, 'id', msg.type), owner: ownerToken(msg, msg.type) };
    case 'query': {
      const query: Extract<RegistryRequest, { type: 'query' }> = { v, seq, type: 'query' };
      if (msg.role !== undefined) query.role = role(msg, 'query');
      if (msg.id !== undefined) query.id = nonEmptyString(msg, 'id', 'query');
      return query;
    }
    default:
      throw new Invalid('bad_request', `unknown request type ${JSON.stringify(msg.type)}`);
  }
}

function readReply(msg: Fields, seq: number): RegistryReply {
  const v = REGISTRY_PROTOCOL_VERSION;
  switch (msg.type) {
    case 'ok':
      return { v, seq, type: 'ok' };
    case 'nodes': {
      const nodes = asArray(msg.nodes, 'nodes.nodes').map((n, i) => readNodeRecord(n, `nodes.nodes[${i}]`));
      const deregistered = msg.deregistered === undefined ? [] : asArray(msg.deregistered, 'nodes.deregistered').map((u, i) => {
        if (typeof u !== 'string') throw new Invalid('bad_request', `nodes.deregistered[${i}] must be a string`);
        return u;
      });
      return { v, seq, type: 'nodes', nodes, epoch: integer(msg, 'epoch', 'nodes', 0), deregistered };
    }
    case 'error': {
      const code = msg.code as ErrorCode;
      if (!ERROR_CODES.includes(code)) throw new Invalid('bad_request', `error.code ${JSON.stringify(code)} is not a known error code`);
      return { v, seq, type: 'error', code, message: string(msg, 'message', 'error') };
    }
    default:
      throw new Invalid('bad_request', `unknown reply type ${JSON.stringify(msg.type)}`);
  }
}

function readNodeRecord(value: unknown, path: string): NodeRecord {
  const o = asObject(value, path);
  const httpUrl = string(o, 'httpUrl', path);
  if (!/^https?:\/\/[^/\s]+/.test(httpUrl)) throw new Invalid('bad_request', `${path}.httpUrl must be an http:// or https:// URL`);
  return {
    id: nonEmptyString(o, 'id', path),
    role: role(o, path),
    httpUrl,
    controlAddr: o.controlAddr === null ? null : nonEmptyString(o, 'controlAddr', path),
    bootstrapPort: o.bootstrapPort === null ? null : integer(o, 'bootstrapPort', path, 1, 65535, 'null or an integer'),
    model: readModel(o.model, `${path}.model`),
    kvLayout: readKvLayout(o.kvLayout, `${path}.kvLayout`),
  };
}

function readModel(value: unknown, path: string): ModelIdentity {
  const o = asObject(value, path);
  return { fingerprint: nonEmptyString(o, 'fingerprint', path), servedModelName: string(o, 'servedModelName', path) };
}

function readKvLayout(value: unknown, path: string): KvLayoutInfo {
  const o = asObject(value, path);
  return {
    numLayers: integer(o, 'numLayers', path, 1),
    entriesPerToken: integer(o, 'entriesPerToken', path, 1),
    dtype: nonEmptyString(o, 'dtype', path),
    pageSize: integer(o, 'pageSize', path, 1),
  };
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function asObject(value: unknown, path: string): Fields {
  if (!isObject(value)) throw new Invalid('bad_request', `${path} must be an object`);
  return value;
}

function asArray(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new Invalid('bad_request', `${path} must be an array`);
  return value;
}

function string(o: Fields, key: string, path: string): string {
  const value = o[key];
  if (typeof value !== 'string') throw new Invalid('bad_request', `${path}.${key} must be a string`);
  return value;
}

function nonEmptyString(o: Fields, key: string, path: string): string {
  const value = string(o, key, path);
  if (value.length === 0) throw new Invalid('bad_request', `${path}.${key} must not be empty`);
  return value;
}

function integer(o: Fields, key: string, path: string, min: number, max = Number.MAX_SAFE_INTEGER, what = 'an integer'): number {
  const value = o[key];
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    const range = max < Number.MAX_SAFE_INTEGER ? `in [${min}, ${max}]` : `>= ${min}`;
    throw new Invalid('bad_request', `${path}.${key} must be ${what} ${range}`);
  }
  return value as number;
}

/** A record's owner token: 32 lower-case hex digits (16 random bytes: not guessable, not a secret to log). */
function ownerToken(o: Fields, path: string): string {
  const value = string(o, 'owner', path);
  if (!OWNER_TOKEN.test(value)) throw new Invalid('bad_request', `${path}.owner must be 32 lower-case hex digits`);
  return value;
}

function role(o: Fields, path: string): RegisteredRole {
  const value = o.role;
  if (!ROLES.includes(value as RegisteredRole)) throw new Invalid('bad_request', `${path}.role must be one of ${ROLES.join(', ')}`);
  return value as RegisteredRole;
}
