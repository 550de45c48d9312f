/**
 * Parallel copy for the shm sender: a large write is split into equal shares (copy-segments.ts),
 * one copied by the sender's own thread and one by each of `threads - 1` copy workers
 * (copy-worker.ts), each viewing the sender's mapping of the peer's pool. Where one thread's copy bandwidth is
 * the floor (it is, per core, on most hosts: a memcpy stream rarely fills a socket's memory
 * bandwidth), N threads copy a prompt's KV up to N times faster.
 *
 * Decisions:
 * - Only writes of at least MIN_PARALLEL_BYTES are split: below that, the two messages per worker
 *   (tens of microseconds each) cost more than the copy saves.
 * - Only a local pool in a SharedArrayBuffer can be read by the workers; another pool (an
 *   external mapping) gets no workers and the sender copies alone.
 * - The write resolves once every share landed. It fails (KvLinkError: the link is retired and the
 *   next connect makes new workers) when a worker dies or a share fails, but only after every other
 *   share of the write has settled: a failed write lets its room fail and decode reuse the pages, so
 *   no thread may still be writing into them then. A dead worker settles its shares at once (its
 *   exit is watched), so it fails the write quickly instead of hanging it.
 * - The workers write through the sender's mapping (ShmRegion.address), so it must outlive them:
 *   `close` resolves only once every worker has exited (stopped, or terminated: Worker.terminate
 *   resolves at the thread's exit), and the sender unmaps after it (shm-sender.ts).
 * - A share that failed (rather than timed out) leaves every worker idle: they are stopped, not
 *   terminated.
 * - Calls go through the actor helper (src/util/actor/: WorkerActor to spawn and stop, one
 *   RequestReply per worker for ids, bounds and a dead worker's pending shares).
 * - Bounded: a share not back within the write's `timeoutMs` fails the write, but only after every
 *   worker was terminated and has exited (a thread inside a copy stops when the copy returns), so
 *   none still writes; the workers' start-up is bounded by START_MS and their stop by STOP_MS.
 * - The writer lock, SIGBUS and owner checks stay with the sender (shm-sender.ts): the lock belongs
 *   to the process (every thread of it), the size check runs before a write is handed out and the
 *   owner check (at most once per OWNER_CHECK_MS) after all its shares landed.
 */
import { RequestReply } from '../../util/actor/request-reply.js';
import { WorkerActor } from '../../util/actor/worker-actor.js';
import type { PageRun } from '../kv-transfer.js';
import { KvLinkError } from '../link-error.js';
import { areaOf, copySegments, splitRuns, type CopyArea } from './copy-segments.js';
import type { CopyReply, CopyRequest, CopyWorkerData } from './copy-worker.js';

/** Writes below this are copied by the sender alone (a 4 MiB copy takes ~0.3 ms at 15 GB/s; two messages per worker ~0.1 ms). */
export const MIN_PARALLEL_BYTES = 4 << 20;
/** Most copy threads a link may use (its own included): past the memory channels more threads only add contention. */
export const MAX_COPY_THREADS = 16;
/** A worker loads koffi on start (koffi must not be terminated while it loads libc): generous, like the transfer actor's. */
const START_MS = 120_000;
/** A worker asked to close exits at once; after this it is terminated. */
const STOP_MS = 5_000;
const WORKER_URL = new URL('./copy-worker.js', import.meta.url);

/** The sender's mapping of the peer's pool body, which the workers write through. */
export interface PeerMapping {
  /** For the workers' messages. */
  name: string;
  address: bigint;
  bytes: number;
}

/** A share the worker answered as failed (as opposed to one that timed out, or a worker gone). */
class ShareFailed extends Error {}

export class ParallelCopy {
  private dead: string | null = null;
  private readonly replies: RequestReply<CopyReply>[];

  private constructor(
    readonly workers: readonly WorkerActor<true>[],
    /** The local pool. */
    private readonly src: CopyArea,
  ) {
    this.replies = workers.map((actor) => {
      const replies = new RequestReply<CopyReply>();
      actor.worker.on('message', (msg: CopyReply) => {
        if (msg.type === 'copied') replies.settle(msg.id, msg);
        else if (msg.type === 'copy_failed') replies.fail(msg.id, new ShareFailed(msg.message));
      });
      actor.onGone((reason) => {
        this.dead ??= reason;
        replies.close(reason);
      });
      return replies;
    });
  }

  /** Starts `threads - 1` workers writing through `peer`; null when there is nothing to share (one thread, or a pool outside a SharedArrayBuffer). */
  static async start(peer: PeerMapping, src: ArrayBufferLike, threads: number): Promise<ParallelCopy | null> {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_COPY_THREADS) throw new Error(`shm copy threads must be 1-${MAX_COPY_THREADS}, got ${threads}`);
    if (threads === 1 || !(src instanceof SharedArrayBuffer)) return null;
    const workerData: CopyWorkerData = { address: peer.address, bytes: peer.bytes, src };
    const started = await Promise.allSettled(
      Array.from({ length: threads - 1 }, (_, i) =>
        WorkerActor.spawn<true>({
          name: `shm copy worker ${i + 1} for ${peer.name}`,
          url: WORKER_URL,
          workerData,
          startMs: START_MS,
          handshake: (msg) => {
            const m = msg as CopyReply;
            return m.type === 'ready' ? true : m.type === 'start_failed' ? new Error(m.message) : undefined;
          },
        }),
      ),
    );
    const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(workers.map((w) => stop(w)));
      throw failed.reason as Error;
    }
    return new ParallelCopy(workers, areaOf(src));
  }

  /**
   * Copies the runs into `dst` (the sender's mapping of the peer's pool): the last share on this
   * thread, the others on the workers; resolves once every share landed.
   */
  async copy(dst: CopyArea, runs: readonly PageRun[], pageBytes: number, timeoutMs: number): Promise<void> {
    if (this.dead) throw new KvLinkError(`shm copy workers unusable: ${this.dead}`);
    const shares = splitRuns(runs, pageBytes, this.workers.length + 1);
    const own = shares.pop()!;
    const settled = Promise.allSettled(
      shares.map((segments, i) => this.replies[i].request(`shm copy worker ${i + 1}'s share`, timeoutMs, (id) => this.workers[i].worker.postMessage({ type: 'copy', id, segments } satisfies CopyRequest))),
    );
    copySegments(dst, this.src, own);
    const failed = (await settled).find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (!failed) return;
    const message = `shm copy failed: ${(failed.reason as Error).message}`;
    this.dead ??= message;
    // A share that timed out may still be copying, and no thread may write once the write has
    // failed: its worker is terminated. Shares the workers answered leave them idle: they stop.
    const answered = (await settled).every((s) => s.status === 'fulfilled' || s.reason instanceof ShareFailed);
    await Promise.all(this.workers.map((w) => (answered ? stop(w) : terminate(w))));
    throw new KvLinkError(message);
  }

  /** Stops every worker; resolves once each has exited (copies still waiting fail). */
  async close(): Promise<void> {
    this.dead ??= 'the sender was closed';
    await Promise.all(this.workers.map((w) => stop(w)));
  }

}

/** Stops a worker (terminated after STOP_MS); resolves once it has exited. */
function stop(actor: WorkerActor<true>): Promise<void> {
  return actor.stop(() => actor.worker.postMessage({ type: 'close' } satisfies CopyRequest), STOP_MS);
}

/** Terminates a worker; resolves once it has exited (a thread inside a copy stops when the copy returns). */
async function terminate(actor: WorkerActor<true>): Promise<void> {
  await actor.worker.terminate();
}
