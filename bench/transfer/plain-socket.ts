/**
 * The tcp baseline: a plain single-stream Node socket between the same two processes, on their main
 * threads. The sender streams `size`-byte views of its source pool back to back (write + 'drain');
 * the sink answers one byte per `size` bytes received, so the sender knows when the last byte
 * arrived. The figure is the ceiling one Node socket reaches delivering the bytes where a KV
 * receiver must put them, which the transfer backend is compared with.
 *
 * Decisions:
 * - The sink reads with `onread` straight into a region as large as the receiver's pool, piece after
 *   piece at successive offsets (wrapping), each read aimed at the rest of the current piece: the
 *   bytes land in memory of a pool's size, as the tcp backend's direct reads put them in its pool,
 *   and no Buffer is made per read. The sink before took Node's 'data' chunks (a new Buffer per
 *   read) and dropped them: its figure moved between 0.5 and 3.5 GB/s within minutes on one VM
 *   (scavenges for "external memory pressure"), and a destination that stays in the cache is not
 *   one a KV receiver has (one socket read into one reused 4 MiB buffer streamed 1.1-1.3 x faster
 *   than into successive views of 1 GiB, 2026-12-07).
 * - `onread` needs a socket this side dialed, so the sink dials the sender (as the tcp backend's
 *   receiver dials back): the sender listens on the address it reaches the receiver from, the
 *   receiver is asked to dial it over the control channel.
 * - The region is not the pool: the timed writes are checked against the pool after the baseline ran.
 */
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { withTimeout } from '../../src/util/timeout.js';
import { listenOnFreePort } from '../../src/transfer/listen-port.js';

/** The acknowledgement of one piece (its value means nothing), the same buffer for every piece. */
const ACK = Buffer.alloc(1);

/**
 * Receiver side: dials the sender at `host:port` and reads its stream into `region`, `size` bytes
 * per piece, acknowledging each piece with one byte. Resolves once connected; the connection ends
 * when the sender closes it.
 */
export async function dialSink(host: string, port: number, size: number, region: Buffer, timeoutMs: number): Promise<void> {
  if (size > region.length) throw new Error(`a ${size} B piece does not fit the sink's ${region.length} B region`);
  let start = 0;
  let filled = 0;
  let socket: Socket | null = null;
  const onRead = (n: number): boolean => {
    filled += n;
    if (filled < size) return true;
    filled = 0;
    start = start + 2 * size > region.length ? 0 : start + size;
    socket!.write(ACK);
    return true;
  };
  socket = connect({ host, port, noDelay: true, onread: { buffer: () => region.subarray(start + filled, start + size), callback: (n) => onRead(n) } });
  socket.on('error', () => {});
  socket.on('end', () => socket!.end());
  try {
    await withTimeout(once(socket, 'connect'), timeoutMs, `plain-socket sink dialing ${host}:${port}`);
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

export interface StreamResult {
  writes: number;
  bytes: number;
  seconds: number;
}

/**
 * Sender side: listens on `host`, has `dial(port)` make the receiver's sink dial it, then writes
 * `piece(k)` (each `size` bytes) until `stop(k, elapsedMs)` says so, and waits for every
 * acknowledgement.
 */
export async function streamPlainSocket(
  host: string, dial: (port: number) => Promise<unknown>, size: number, piece: (k: number) => Buffer, stop: (writes: number, elapsedMs: number) => boolean, timeoutMs: number,
): Promise<StreamResult> {
  const server = createServer({ noDelay: true });
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  accepted.catch(() => {}); // awaited below unless the dial fails first
  const port = await listenOnFreePort(server, host, timeoutMs, 'plain-socket sender');
  let socket: Socket | null = null;
  try {
    await dial(port);
    [socket] = await withTimeout(accepted, timeoutMs, 'the plain-socket sink to dial');
    socket.setNoDelay(true);
    socket.on('error', () => {});
    let acked = 0;
    let wake: (() => void) | null = null;
    socket.on('data', (chunk: Buffer) => {
      acked += chunk.length;
      wake?.();
    });
    const closed = once(socket, 'close').then(() => {
      throw new Error('the plain-socket sink closed the connection');
    });
    closed.catch(() => {}); // raced below; it also settles when this side destroys the socket
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
    socket?.destroy();
    server.close();
  }
}
