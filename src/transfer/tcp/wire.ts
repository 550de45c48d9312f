/**
 * The tcp backend's frames. Every frame starts with a 16-byte little-endian head:
 *   magic u32 ('PDKV') | version u16 | kind u16 | a u32 | b u32
 * Two connections per link (see tcp-sender.ts for why): the sender dials the receiver's published
 * port (the control connection), the receiver dials back to a port the sender names (the data
 * connection, which the receiver reads straight into its pool).
 * Sender -> receiver, control connection:
 *   HELLO   a = page bytes, b = dial-back port, then a TOKEN_BYTES token (first and only frame)
 * Receiver -> sender, data connection:
 *   WELCOME a = pool pages, b = page bytes, then the HELLO's token (first frame: proves which HELLO
 *           this connection answers)
 * Sender -> receiver, data connection:
 *   WRITE   a = write id, b = run count, then per run: dst page u32, page count u32, then the bytes of
 *           every run in order
 * Receiver -> sender, data connection:
 *   ACK     a = write id: every write up to and including this one has its last byte in the pool
 *           (cumulative: one ACK may settle several pipelined writes)
 * Receiver -> sender, either connection:
 *   REFUSED a = message length, then the UTF-8 message; the receiver closes the connection after it
 *
 * Decisions: fixed-size heads so either side reads a frame with one bounded accumulation; page ids
 * and counts are u32 (4 G pages) and page bytes u32 (4 GiB pages), checked when encoding; the version
 * is in every head so a mismatched peer is refused on its first frame, not misread. Kinds differ
 * between directions so a looped-back or crossed connection fails at once.
 */
import type { PageRun } from '../kv-transfer.js';

export const HEAD_BYTES = 16;
export const RUN_BYTES = 8;
export const MAGIC = 0x564b4450;
export const VERSION = 2;
/** The random token a HELLO carries and the dial-back's WELCOME echoes. */
export const TOKEN_BYTES = 16;
/** A REFUSED message longer than this is cut. */
export const MAX_REFUSAL_BYTES = 1024;

export const enum Kind {
  Hello = 1,
  Write = 2,
  Welcome = 3,
  Ack = 4,
  Refused = 5,
}

export interface Head {
  kind: Kind;
  a: number;
  b: number;
}

export function encodeHead(kind: Kind, a: number, b: number): Buffer {
  const buf = Buffer.allocUnsafe(HEAD_BYTES);
  writeHead(buf, kind, a, b);
  return buf;
}

/** A WRITE head with its run table (runs must already be checked). */
export function encodeWrite(id: number, runs: readonly PageRun[]): Buffer {
  const buf = Buffer.allocUnsafe(HEAD_BYTES + runs.length * RUN_BYTES);
  writeHead(buf, Kind.Write, id, runs.length);
  for (let i = 0, at = HEAD_BYTES; i < runs.length; i++, at += RUN_BYTES) {
    buf.writeUInt32LE(runs[i].dst, at);
    buf.writeUInt32LE(runs[i].count, at + 4);
  }
  return buf;
}

/** A head followed by a token (HELLO, WELCOME). */
export function encodeWithToken(kind: Kind.Hello | Kind.Welcome, a: number, b: number, token: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(HEAD_BYTES + TOKEN_BYTES);
  writeHead(buf, kind, a, b);
  token.copy(buf, HEAD_BYTES, 0, TOKEN_BYTES);
  return buf;
}

export function encodeRefused(message: string): Buffer {
  const text = Buffer.from(message, 'utf8').subarray(0, MAX_REFUSAL_BYTES);
  return Buffer.concat([encodeHead(Kind.Refused, text.length, 0), text]);
}

/** Reads a head; throws (with what was wrong) if it is not one of ours or of another version. */
export function decodeHead(buf: Buffer): Head {
  const magic = buf.readUInt32LE(0);
  if (magic !== MAGIC) throw new Error(`not a pd-node KV frame (magic 0x${magic.toString(16)})`);
  const version = buf.readUInt16LE(4);
  if (version !== VERSION) throw new Error(`KV wire version ${version}, this side speaks ${VERSION}`);
  return { kind: buf.readUInt16LE(6), a: buf.readUInt32LE(8), b: buf.readUInt32LE(12) };
}

function writeHead(buf: Buffer, kind: Kind, a: number, b: number): void {
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt16LE(VERSION, 4);
  buf.writeUInt16LE(kind, 6);
  buf.writeUInt32LE(a, 8);
  buf.writeUInt32LE(b, 12);
}
