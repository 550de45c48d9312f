/**
 * Worker-thread entry of one shm copy worker (parallel-copy.ts): maps the peer's pool itself and
 * copies the segments it is sent from the local pool (a SharedArrayBuffer) into it.
 *
 * Decisions:
 * - It maps the pool by name and checks, before it could write a byte, that the object is the one
 *   the sender checked on connect: openShmRegion's checks (private regular file of this uid, of
 *   exactly the announced size) and the same pool header (pool id and page size, pool-header.ts).
 *   A name replaced in between is refused, and the sender's connect fails with the reason.
 * - It takes no writer lock of its own: the sender's lock is held by this process, which this thread
 *   belongs to, so the decode node's cutWriter sees it exactly as long as this thread can write.
 * - No size (SIGBUS) or owner check per segment: the sender checks the object's size before it
 *   hands out a write and, at most once per OWNER_CHECK_MS, the owner once every share of it was copied (shm-sender.ts).
 * - The mapping is released by the sender's thread once this one has exited (it is told the mapping
 *   in `ready`), not here: a thread that is terminated (a share past its timeout) runs no code of its
 *   own, and one owner of the munmap means no double unmap. `close` only closes the port, after which
 *   the thread exits by itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openShmRegion, type ShmMapping, type ShmRegion } from '../../../native/shm-region.js';
import { copySegments } from './copy-segments.js';
import { poolHeaderMismatch } from './pool-header.js';

export interface CopyWorkerData {
  /** The peer's pool object, as the sender checked it. */
  name: string;
  bytes: number;
  poolId: string;
  pageBytes: number;
  /** The local pool. */
  src: SharedArrayBuffer;
}

export type CopyRequest = { type: 'copy'; id: number; segments: number[] } | { type: 'close' };
export type CopyReply = { type: 'ready'; mapping: ShmMapping } | { type: 'start_failed'; message: string } | { type: 'copied'; id: number } | { type: 'copy_failed'; id: number; message: string };

if (!parentPort) throw new Error('copy-worker must run in a worker thread');
const port = parentPort;
const data = workerData as CopyWorkerData;
const post = (msg: CopyReply): void => port.postMessage(msg);

function open(): ShmRegion {
  const region = openShmRegion(data.name, data.bytes);
  const mismatch = poolHeaderMismatch(region, { poolId: data.poolId, pageBytes: data.pageBytes });
  if (mismatch) {
    region.close();
    throw new Error(`refusing shm pool ${data.name}: ${mismatch}`);
  }
  return region;
}

function serve(region: ShmRegion): void {
  port.on('message', (req: CopyRequest) => {
    if (req.type === 'close') {
      port.close();
      return;
    }
    try {
      copySegments(region.buffer, data.src, req.segments);
      post({ type: 'copied', id: req.id });
    } catch (err) {
      post({ type: 'copy_failed', id: req.id, message: (err as Error).message });
    }
  });
  post({ type: 'ready', mapping: region.mapping });
}

try {
  serve(open());
} catch (err) {
  post({ type: 'start_failed', message: (err as Error).message });
  port.close();
}
