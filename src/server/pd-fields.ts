/**
 * The PD fields the router adds to generation bodies: `bootstrap_host`, `bootstrap_port`,
 * `bootstrap_room` (one value, or one per prompt of a batch, as SGLang's router sends them).
 *
 * `bootstrap_room` is a 63-bit integer, beyond what a JS number holds exactly, so the body text is
 * rewritten before JSON.parse to carry it as a decimal string (`quoteBootstrapRooms`); rooms are then
 * checked as integers in [0, 2^63) and handled as strings.
 *
 * As in SGLang, null is "not given", and a null `bootstrap_port` (SGLang's mini_lb sends it when it
 * was started without --prefill-bootstrap-ports) means this node's own --disaggregation-bootstrap-port:
 * prefill and decode nodes of one deployment share the port. A prefill node does not use the port; a
 * decode node whose port is chosen at run time (0) cannot name the prefill's, so there a null port is
 * a 400.
 */
import type { PdBootstrap } from '../../actors/scheduler/protocol.js';
import { HttpError } from './errors.js';

const ROOM_LIMIT = 1n << 63n;

export const PD_PROPERTIES = {
  bootstrap_host: { type: ['string', 'array', 'null'], minLength: 1, minItems: 1, items: { type: 'string', minLength: 1 } },
  bootstrap_port: { type: ['integer', 'array', 'null'], minimum: 1, maximum: 65535, minItems: 1, items: { type: ['integer', 'null'], minimum: 1, maximum: 65535 } },
  bootstrap_room: { type: ['string', 'array', 'null'], minItems: 1, items: { type: 'string' } },
} as const;

export interface PdBody {
  bootstrap_host?: string | string[] | null;
  bootstrap_port?: number | (number | null)[] | null;
  bootstrap_room?: string | string[] | null;
}

// The key as a JSON member (not inside a string: there its quotes would be escaped), then a number
// or a list of numbers.
const ROOM_MEMBER = /(?<!\\)"bootstrap_room"\s*:\s*(-?\d[\d.eE+-]*|\[[\s\d.eE+,-]*\])/g;

export function quoteBootstrapRooms(text: string): string {
  if (!text.includes('bootstrap_room')) return text;
  return text.replace(ROOM_MEMBER, (_m, value: string) => {
    const quoted = value.startsWith('[') ? value.replace(/-?\d[\d.eE+-]*/g, (n) => `"${n}"`) : `"${value}"`;
    return `"bootstrap_room":${quoted}`;
  });
}

/** The node's side of a null `bootstrap_port`: its role and --disaggregation-bootstrap-port. */
export interface OwnBootstrap {
  role: string;
  bootstrapPort: number;
}

/** One PdBootstrap per prompt, or undefined when the body has no PD fields (all absent or null). */
export function pdBootstraps(body: PdBody, count: number, own: OwnBootstrap): PdBootstrap[] | undefined {
  const host = body.bootstrap_host ?? undefined;
  const room = body.bootstrap_room ?? undefined;
  if (host === undefined && room === undefined) return undefined;
  if (host === undefined || room === undefined) {
    throw new HttpError(400, 'bootstrap_host and bootstrap_room go together (PD mode)', host === undefined ? 'bootstrap_host' : 'bootstrap_room');
  }
  const hosts = perPrompt(host, count, 'bootstrap_host');
  const port = body.bootstrap_port ?? null;
  const ports = (port === null ? hosts.map(() => null) : perPrompt(port, count, 'bootstrap_port')).map((p) => p ?? ownBootstrapPort(own));
  const rooms = perPrompt(room, count, 'bootstrap_room').map(checkRoom);
  if (new Set(rooms).size !== rooms.length) throw new HttpError(400, 'bootstrap_room values of a batch must differ', 'bootstrap_room');
  return rooms.map((r, i) => ({ room: r, host: hosts[i], port: ports[i] }));
}

function ownBootstrapPort({ role, bootstrapPort }: OwnBootstrap): number {
  if (bootstrapPort === 0 && role === 'decode') throw new HttpError(400, 'bootstrap_port is null and this node was started with --disaggregation-bootstrap-port 0 (chosen at run time): give the prefill node\'s bootstrap port', 'bootstrap_port');
  return bootstrapPort;
}

function perPrompt<T>(value: T | T[], count: number, name: string): T[] {
  if (!Array.isArray(value)) {
    if (count !== 1) throw new HttpError(400, `${name} must be a list with one value per prompt (${count} prompts)`, name);
    return [value];
  }
  if (value.length !== count) throw new HttpError(400, `${name} has ${value.length} values for ${count} prompts`, name);
  return value;
}

function checkRoom(text: string): string {
  if (!/^\d{1,19}$/.test(text) || BigInt(text) >= ROOM_LIMIT) {
    throw new HttpError(400, `bootstrap_room must be an integer in [0, 2^63) (got ${text})`, 'bootstrap_room');
  }
  return BigInt(text).toString(); // canonical: no leading zeros, so equal rooms compare equal
}
