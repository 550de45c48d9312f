/**
 * Worker-thread entry of one shm copy worker (parallel-copy.ts): copies the segments it is sent from
 * the local pool (a SharedArrayBuffer) into the peer's pool, by the address of the mapping the
 * sender's thread made.
 *
 * Decisions:
 * - No mapping of its own: the sender's mapping belongs to the process, so this thread writes it by
 *   address. The object is then exactly the one the sender checked on connect (no second open by
 *   name that another object could have replaced), and a thread that is terminated leaves nothing
 *   to release. The sender unmaps only after every worker has exited (parallel-copy.ts).
 * - It takes no writer lock of its own: the sender's lock is held by this process, which this thread
 *   belongs to, so the decode node's cutWriter sees it exactly as long as this thread can write.
 * - No size (SIGBUS) or owner check per segment: the sender checks the object's size before it
 *   hands out a write and, at most once per OWNER_CHECK_MS, the owner once every share of it was copied (shm-sender.ts).
 * - `close` only closes the port, after which the thread exits by itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { areaAt, areaOf, copySegments, type CopyArea } from './copy-segments.js';

export interface CopyWorkerData {
  /** The sender's mapping of the peer's pool body (ShmRegion.address) and its bytes. */
  address: bigint;
  bytes: number;
  /** The local pool. */
  src: SharedArrayBuffer;
}

export type CopyRequest = { type: 'copy'; id: number; segments: number[] } | { type: 'close' };
export type CopyReply = { type: 'ready' } | { type: 'start_failed'; message: string } | { type: 'copied'; id: number } | { type: 'copy_failed'; id: number; message: string };

if (!parentPort) throw new Error('copy-worker must run in a worker thread');
const port = parentPort;
const data = workerData as CopyWorkerData;
const post = (msg: CopyReply): void => port.postMessage(msg);

function serve(dst: CopyArea, src: CopyArea): void {
  port.on('message', (req: CopyRequest) => {
    if (req.type === 'close') {
      port.close();
      return;
    }
    try {
      copySegments(dst, src, req.segments);
      post({ type: 'copied', id: req.id });
    } catch (err) {
      post({ type: 'copy_failed', id: req.id, message: (err as Error).message });
    }
  });
  post({ type: 'ready' });
}

try {
  serve(areaAt(data.address, data.bytes), areaOf(data.src));
} catch (err) {
  post({ type: 'start_failed', message: (err as Error).message });
  port.close();
}
