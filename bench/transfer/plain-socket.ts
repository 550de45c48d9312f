/**
 * The tcp baseline: a plain single-stream Node socket between the same two processes, on their main
 * threads, with Node's defaults (a 'data' handler, write + 'drain'). The sender streams `size`-byte
 * views of its source pool back to back; the sink answers one byte per `size` bytes received, so the
 * sender knows when the last byte arrived. The figure is the ceiling one Node socket reaches, which
 * the transfer backend is compared with.
 */
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { withTimeout } from '../../src/util/timeout.js';
import { listenOnFreePort } from '../../src/transfer/listen-port.js';

/** Acknowledgement bytes (their value means nothing), shared by every write: a view per chunk, no new memory. */
const ACK_BYTES = Buffer.alloc(4096);

/** Receiver side. Each connection starts with a u32 LE: the bytes per acknowledgement. */
export async function startSink(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => {});
    let ackBytes = 0;
    let pending = 0;
    socket.on('data', (chunk: Buffer) => {
      let n = chunk.length;
      if (ackBytes === 0) {
        ackBytes = chunk.readUInt32LE(0);
        n -= 4;
      }
      pending += n;
      let acks = 0;
      while (pending >= ackBytes) {
        pending -= ackBytes;
        acks++;
      }
      for (; acks > 0; acks -= ACK_BYTES.length) socket.write(ACK_BYTES.subarray(0, Math.min(acks, ACK_BYTES.length)));
    });
  });
  const port = await listenOnFreePort(server, host, 5000, 'plain-socket sink');
  return { server, port };
}

export interface StreamResult {
  writes: number;
  bytes: number;
  seconds: number;
}

/**
 * Sender side: writes `piece(k)` (each `size` bytes) until `stop(k, elapsedMs)` says so, then waits for
 * every acknowledgement.
 */
export async function streamPlainSocket(host: string, port: number, size: number, piece: (k: number) => Buffer, stop: (writes: number, elapsedMs: number) => boolean, timeoutMs: number): Promise<StreamResult> {
  const socket = connect({ host, port, noDelay: true });
  socket.on('error', () => {});
  await withTimeout(once(socket, 'connect'), timeoutMs, `plain socket connect to ${host}:${port}`);
  let acked = 0;
  let wake: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    acked += chunk.length;
    wake?.();
  });
  const closed = once(socket, 'close').then(() => {
    throw new Error('the plain-socket sink closed the connection');
  });
  try {
    const header = Buffer.alloc(4);
    header.writeUInt32LE(size);
    socket.write(header);
    const t0 = performance.now();
    let writes = 0;
    while (!stop(writes, performance.now() - t0)) {
      const more = socket.write(piece(writes++));
      if (!more) await withTimeout(Promise.race([once(socket, 'drain'), closed]), timeoutMs, 'plain socket drain');
    }
    const allAcked = new Promise<void>((resolve) => {
      wake = () => {
        if (acked >= writes) resolve();
      };
      wake();
    });
    await withTimeout(Promise.race([allAcked, closed]), timeoutMs, 'plain socket acknowledgements');
    return { writes, bytes: writes * size, seconds: (performance.now() - t0) / 1000 };
  } finally {
    socket.destroy();
  }
}
