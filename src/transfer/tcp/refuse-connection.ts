/**
 * How a tcp receiver refuses a connection (a bad frame, a bad run, a page-size mismatch, a dial-back
 * that failed): a REFUSED frame with the reason, then the connection closes, forcibly after a short
 * grace, so a peer that keeps sending (or never reads) cannot hold it open.
 */
import type { Socket } from 'node:net';
import { encodeRefused } from './wire.js';

/** How long a refused peer may take to read the REFUSED frame before the connection is destroyed. */
const REFUSE_GRACE_MS = 1000;

export function refuseConnection(socket: Socket, reason: string): void {
  socket.end(encodeRefused(reason));
  setTimeout(() => socket.destroy(), REFUSE_GRACE_MS).unref();
}
