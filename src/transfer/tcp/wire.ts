/**
 * The tcp backend's frames. Every frame starts with a 16-byte little-endian head:
 *   magic u32 ('PDKV') | version u16 | kind u16 | a u32 | b u32
 * Two connections per link (see tcp-sender.ts for why): the sender dials the receiver's published
 * port (the control connection), the receiver dials back to a port the sender names (the data
 * connection, which the receiver reads straight into its pool).
 * Receiver -> sender, control connection:
 *   CHALLENGE a = 0, b = 0, then CHALLENGE_BYTES random bytes (first frame, sent on accept)
 * Sender -> receiver, control connection:
 *   HELLO   a = page bytes, b = dial-back port, then a TOKEN_BYTES token, the WRITER_BYTES writer
 *           (the decode node's token for this prefill node) and a PROOF_BYTES proof (link-proof.ts)
 *           (first and only frame)
 * Receiver -> sender, data connection:
 *   WELCOME a = pool pages, b = page bytes, then the HELLO's token and a proof (first frame: proves
 *           which HELLO this connection answers, and that the receiver holds the cluster secret)
 * Sender -> receiver, data connection:
 *   WRITE   a = write id, b = run count, then the room (u64), then per run: dst page u32, page count
 *           u32, then the bytes of every run in order
 * Receiver -> sender, data connection:
 *   ACK     a = write id: every write up to and including this one that was not NACKed has its last
 *           byte in the pool (cumulative: one ACK may settle several pipelined writes)
 *   NACK    a = write id, b = reason length (1 to MAX_REFUSAL_BYTES), then the UTF-8 reason: this one
 *           write was refused (its room has no grant for the link's writer, a run is outside the
 *           grant, or the room was released while the write was being read); its bytes were read and
 *           dropped, not one of them is in the pool after the NACK's cause, and the connection carries
 *           on. Sent once the write's last byte was read, after any ACK due for earlier writes, so
 *           the writes it follows are settled first.
 * Receiver -> sender, either connection:
 *   REFUSED a = message length, then the UTF-8 message; the receiver closes the connection after it
 *           (a bad frame: a broken or hostile peer, not a refused write)
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
export const VERSION = 4;
/** The random token a HELLO carries and the dial-back's WELCOME echoes. */
export const TOKEN_BYTES = 16;
/** The random challenge a receiver sends on accept: every HELLO proof is over a fresh one. */
export const CHALLENGE_BYTES = 32;
/** A writer token (32 hex digits on the control plane). */
export const WRITER_BYTES = 16;
/** An HMAC-SHA256 proof. */
export const PROOF_BYTES = 32;
/** What follows a HELLO head: token, writer, proof. */
export const HELLO_BODY_BYTES = TOKEN_BYTES + WRITER_BYTES + PROOF_BYTES;
/** What follows a WELCOME head: token, proof. */
export const WELCOME_BODY_BYTES = TOKEN_BYTES + PROOF_BYTES;
/** The room after a WRITE head. */
export const ROOM_BYTES = 8;
/** A REFUSED message or NACK reason longer than this is cut. */
export const MAX_REFUSAL_BYTES = 1024;

export const enum Kind {
  Hello = 1,
  Write = 2,
  Welcome = 3,
  Ack = 4,
  Refused = 5,
  Challenge = 6,
  Nack = 7,
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

/** A WRITE head with its room and run table (runs must already be checked; `room` a decimal u64). */
export function encodeWrite(id: number, room: string, runs: readonly PageRun[]): Buffer {
  const buf = Buffer.allocUnsafe(HEAD_BYTES + ROOM_BYTES + runs.length * RUN_BYTES);
  writeHead(buf, Kind.Write, id, runs.length);
  buf.writeBigUInt64LE(roomNumber(room), HEAD_BYTES);
  for (let i = 0, at = HEAD_BYTES + ROOM_BYTES; i < runs.length; i++, at += RUN_BYTES) {
    buf.writeUInt32LE(runs[i].dst, at);
    buf.writeUInt32LE(runs[i].count, at + 4);
  }
  return buf;
}

/**
 * A room as the wire carries it (and as a receiver keys its grants): rooms are decimal u64 strings,
 * so "007" and "7" are the same room on both sides.
 */
export function roomNumber(room: string): bigint {
  if (!/^\d{1,20}$/.test(room)) throw new Error(`room ${JSON.stringify(room)} is not a decimal u64`);
  const n = BigInt(room);
  if (n >= 1n << 64n) throw new Error(`room ${room} does not fit 64 bits`);
  return n;
}

/** A writer token (32 hex digits) as bytes; throws on anything else. */
export function writerBytes(writer: string): Buffer {
  if (!/^[0-9a-f]{32}$/i.test(writer)) throw new Error(`writer token ${JSON.stringify(writer)} is not ${WRITER_BYTES * 2} hex digits`);
  return Buffer.from(writer, 'hex');
}

/** A head followed by the pieces of its body (CHALLENGE, HELLO, WELCOME). */
export function encodeWithBody(kind: Kind.Challenge | Kind.Hello | Kind.Welcome, a: number, b: number, body: readonly Buffer[]): Buffer {
  const head = Buffer.allocUnsafe(HEAD_BYTES);
  writeHead(head, kind, a, b);
  return Buffer.concat([head, ...body]);
}

export function encodeRefused(message: string): Buffer {
  const text = Buffer.from(message, 'utf8').subarray(0, MAX_REFUSAL_BYTES);
  return Buffer.concat([encodeHead(Kind.Refused, text.length, 0), text]);
}

/** A NACK of write `id` (`reason` must not be empty; it is cut to MAX_REFUSAL_BYTES). */
export function encodeNack(id: number, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, MAX_REFUSAL_BYTES);
  return Buffer.concat([encodeHead(Kind.Nack, id, text.length), text]);
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
