/**
 * A hostile peer speaking raw ZMTP 3.0 at a ZeroMQ port, for the flood tests: it greets as a CURVE
 * client (the mechanism pd-node's sockets speak, so the greeting is accepted) and then, instead of
 * a HELLO, sends command frames of `frameBytes` back to back; when the server hangs up it connects
 * again, until `durationMs` has passed. Nothing it sends is valid, so the server's only defences are
 * its frame bound and its handshake. A frame body is streamed from one reused 1 MiB buffer, so the
 * attacker itself stays small whatever the frame size.
 */
import { connect, type Socket } from 'node:net';

export interface FloodResult {
  /** Connections made (each one the server hung up on, or the run ended). */
  connections: number;
  /** Bytes handed to the kernel over all connections (not those still queued in Node when it hung up). */
  bytesSent: number;
  /** Connections the server closed before the attacker finished a frame. */
  cutMidFrame: number;
}

const CHUNK = Buffer.alloc(1024 * 1024, 0x41);
/** A drain or a connect that takes longer than this means the server stopped reading: move on. */
const STALL_MS = 2000;

function greeting(): Buffer {
  const g = Buffer.alloc(64);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3; // ZMTP 3.0
  g.write('CURVE', 12, 'latin1');
  return g; // as-server 0 and the filler are zeros
}

function frameHeader(bytes: number): Buffer {
  const h = Buffer.alloc(9);
  h[0] = 0x06; // COMMAND | LONG
  h.writeBigUInt64BE(BigInt(bytes), 1);
  return h;
}

/** Resolves true when `socket` can take more, false when it closed or stalled. */
function drained(socket: Socket): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    const timer = setTimeout(() => done(false), STALL_MS);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}

async function oneConnection(port: number, frameBytes: number, deadline: number, result: FloodResult): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // EPIPE / ECONNRESET when the server hangs up: expected
  let closed = false;
  socket.once('close', () => {
    closed = true;
  });
  result.connections++;
  try {
    if (!(await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), STALL_MS);
      socket.once('connect', () => (clearTimeout(timer), resolve(true)));
      socket.once('close', () => (clearTimeout(timer), resolve(false)));
    }))) return;
    socket.write(greeting());
    while (!closed && Date.now() < deadline) {
      socket.write(frameHeader(frameBytes));
      for (let left = frameBytes; left > 0 && !closed; left -= CHUNK.length) {
        const ok = socket.write(left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left));
        if (!ok && !(await drained(socket))) {
          if (closed) result.cutMidFrame++;
          return;
        }
        if (Date.now() >= deadline) return;
      }
    }
  } finally {
    result.bytesSent += socket.bytesWritten - socket.writableLength;
    socket.destroy();
  }
}

/** `parallel` attackers, each reconnecting whenever the server hangs up, for `durationMs`. */
export async function zmtpFlood(port: number, frameBytes: number, parallel: number, durationMs: number): Promise<FloodResult> {
  const result: FloodResult = { connections: 0, bytesSent: 0, cutMidFrame: 0 };
  const deadline = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (Date.now() < deadline) await oneConnection(port, frameBytes, deadline, result);
    }),
  );
  return result;
}
