/**
 * The queue-pair exchange of the verbs backend: a sender and a receiver trade queue-pair numbers,
 * first PSNs, GIDs and MTUs over a TCP connection, one JSON message per line.
 *
 * Decisions:
 * - The sender speaks first (HELLO: its page size, the writer token the decode node gave its node,
 *   and, per lane, its QP on its device and the index of the receiver's device it pairs with); the
 *   receiver answers WELCOME with its own QP per lane and the path MTU (the smaller of both ports'
 *   MTUs), or REFUSED with a reason. The token tells the receiver whose queue pairs these are, so it
 *   can cut exactly that writer's (KvReceiver.cutWriter).
 * - The TCP connection stays open for the life of the link: either side closing it (a process that
 *   exits or is killed closes it too) tells the other that the link is gone, well before RDMA retries
 *   run out.
 * - Messages are checked field by field: a peer is another process, maybe another version.
 */
import type { Socket } from 'node:net';

export interface LaneOffer {
  /** Index in the receiver's endpoint `devices`. */
  device: number;
  qpNum: number;
  psn: number;
  /** 32 hex digits. */
  gid: string;
  lid: number;
  /** Active MTU of the sender's port (an MTU enum value). */
  mtu: number;
}

export interface LaneAnswer {
  qpNum: number;
  psn: number;
  /** The path MTU both sides use. */
  mtu: number;
}

export type ExchangeMessage =
  /** `writer`: 32 hex digits. */
  | { type: 'hello'; pageBytes: number; writer: string; lanes: LaneOffer[] }
  /** `numPages`: the receiver's pool, so the sender checks runs before writing a byte. */
  | { type: 'welcome'; numPages: number; lanes: LaneAnswer[] }
  | { type: 'refused'; reason: string };

/** A line longer than this is not an exchange message (a hello for 64 lanes is about 10 KB). */
const MAX_LINE_BYTES = 64 * 1024;

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isHex32 = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{32}$/.test(v);

function isOffer(v: unknown): v is LaneOffer {
  const o = v as LaneOffer;
  return typeof v === 'object' && v !== null && isCount(o.device) && isCount(o.qpNum) && isCount(o.psn) && isHex32(o.gid) && isCount(o.lid) && isCount(o.mtu);
}

function isAnswer(v: unknown): v is LaneAnswer {
  const o = v as LaneAnswer;
  return typeof v === 'object' && v !== null && isCount(o.qpNum) && isCount(o.psn) && isCount(o.mtu);
}

/** The message in `line`, or throws saying why it is not one. */
export function parseExchange(line: string): ExchangeMessage {
  let m: unknown;
  try {
    m = JSON.parse(line);
  } catch {
    throw new Error('not a verbs QP exchange message (not JSON)');
  }
  const o = m as Record<string, unknown>;
  if (o?.type === 'hello' && isCount(o.pageBytes) && isHex32(o.writer) && Array.isArray(o.lanes) && o.lanes.length > 0 && o.lanes.every(isOffer)) return o as ExchangeMessage;
  if (o?.type === 'welcome' && isCount(o.numPages) && Array.isArray(o.lanes) && o.lanes.every(isAnswer)) return o as ExchangeMessage;
  if (o?.type === 'refused' && typeof o.reason === 'string') return o as ExchangeMessage;
  throw new Error(`not a verbs QP exchange message: ${line.slice(0, 80)}`);
}

export function sendExchange(socket: Socket, message: ExchangeMessage): void {
  socket.write(`${JSON.stringify(message)}\n`);
}

/** Resolves with the next message on `socket`; rejects if it closes first or sends something else. */
export function nextExchange(socket: Socket): Promise<ExchangeMessage> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (err: Error | null, message?: ExchangeMessage): void => {
      socket.off('data', onData).off('close', onClose).off('error', onError);
      if (err) reject(err);
      else resolve(message!);
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end < 0) {
        if (text.length > MAX_LINE_BYTES) done(new Error(`verbs QP exchange: a line over ${MAX_LINE_BYTES} B`));
        return;
      }
      // Nothing follows a message until it is answered, so no bytes after the newline are lost.
      try {
        done(null, parseExchange(text.slice(0, end)));
      } catch (err) {
        done(err as Error);
      }
    };
    const onClose = (): void => done(new Error('the peer closed the QP exchange connection'));
    const onError = (err: Error): void => done(err);
    socket.on('data', onData).on('close', onClose).on('error', onError);
  });
}
