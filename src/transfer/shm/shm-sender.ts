/**
 * The shm backend's sender: a prefill process's mapping of one decode node's pool, written into
 * directly (one-sided, like an RDMA WRITE; the decode CPU is not involved).
 *
 * Decisions:
 * - One memcpy per run (the runs are contiguous on both sides; copy-segments.ts says why memcpy
 *   and not `Uint8Array.set`), after every run was checked against both pools, so a bad write
 *   changes nothing.
 * - A write of at least MIN_PARALLEL_BYTES is split across the link's copy threads when it has them
 *   (parallel-copy.ts: this thread copies one share, copy workers the others; `timeoutMs` bounds the
 *   wait for theirs). Smaller writes, and every write of a link without workers, are copied here
 *   synchronously: when the copy returns every byte is in the peer's pool.
 * - The sender holds its writer lock (writer-lock.ts) from before its first write until `close`:
 *   that is what tells the decode node this writer may still write.
 * - SIGBUS: touching the mapping past the end of a truncated object would kill the process, so
 *   before every write (one lseek per batch of runs, about 1 us) the object must still have its
 *   full size, or the link is dead (KvLinkError) and nothing is copied. The window that remains, a
 *   truncation between that check and the end of the copy, can only be opened by a process of this
 *   user (or root): the object is 0600 and ours, checked before it was mapped. Such a process can
 *   kill or ptrace the prefill anyway, so the window gives nobody a power they lack; nothing in
 *   pd-node truncates a pool (the decode node unlinks it, which leaves mappings valid). Closing it
 *   for good would take pwrite(2) on the object's fd instead of the copy (the kernel then extends
 *   the file instead of faulting), measured at half the copy's bandwidth here (9 vs 17 GB/s for
 *   256 MiB), or memfd seals (F_SEAL_SHRINK), which /dev/shm objects cannot carry and a memfd
 *   could only be shared by fd passing or /proc/<pid>/fd, not by name across PID namespaces.
 * - After the copy the pool's owner must still hold the object (its lock, see native/shm-region.ts):
 *   bytes written into a dead decode node's pool are lost, so the write fails instead of the room
 *   waiting for a notice nobody will read. A dead owner makes the sender dead for good
 *   (KvLinkError); a bad run is a plain Error.
 * - The owner is asked at most once per OWNER_CHECK_MS (after the copy of the first write past
 *   it), not after every write: the question is two flock calls through FFI, about 5 us, a tenth of
 *   a 1 MiB copy. A write that lands in the interval after the owner died reports success, and
 *   that cannot make an answer wrong: the pool is the dead process's alone (a fresh object per
 *   process, created O_EXCL under a name of its own; a restarted decode node publishes a new
 *   endpoint, and a new endpoint makes a new link), so no live process ever reads those bytes; the
 *   room's notice (kv_done) goes to a peer that is gone, which has no answer to give, and the
 *   prefill's control plane declares it lost after its peer timeout (src/pd/prefill-control.ts),
 *   which fails its rooms. The interval only bounds how late the link finds out by itself.
 * - `close` unmaps the peer's pool and drops the writer lock; the sender must not be used afterwards
 *   (checked).
 */
import { performance } from 'node:perf_hooks';
import type { ShmRegion } from '../../../native/shm-region.js';
import type { KvSender, PageRun, PoolRegion, WriteResult } from '../kv-transfer.js';
import { KvLinkError } from '../link-error.js';
import { checkRuns } from '../run-bounds.js';
import { areaAt, areaOf, copyBytes, type CopyArea } from './copy-segments.js';
import { MIN_PARALLEL_BYTES, type ParallelCopy } from './parallel-copy.js';
import type { WriterLock } from './writer-lock.js';

/** How stale the owner check may be: far below any peer timeout, far above a write's time. */
export const OWNER_CHECK_MS = 100;

export class ShmKvSender implements KvSender {
  private readonly peerPages: number;
  /** The peer's pool body as this process maps it, and the local pool, for memcpy. */
  private readonly dst: CopyArea;
  private readonly src: CopyArea;
  private broken: string | null = null;
  /** When (performance.now) the owner was last found alive. */
  private ownerSeenAt = -Infinity;

  /** `copier`: the link's copy workers (null: this thread copies every write alone). */
  constructor(private readonly peer: ShmRegion, private readonly pool: PoolRegion, private readonly lock: WriterLock, private readonly copier: ParallelCopy | null) {
    this.peerPages = Math.floor(peer.bytes / pool.pageBytes);
    this.dst = areaAt(peer.address, peer.bytes);
    this.src = areaOf(pool.buffer);
  }

  /** Synchronous (the result, or a throw) when this thread copies alone; a promise when copy workers share the write. */
  write(runs: readonly PageRun[], timeoutMs: number): WriteResult | Promise<WriteResult> {
    if (this.broken) throw this.error(this.broken);
    const start = performance.now();
    const pages = checkRuns(runs, this.pool.numPages, this.peerPages);
    if (!this.peer.intact()) {
      this.broken = 'the pool object shrank (truncated by another process): writing into it would fault';
      throw this.error(this.broken);
    }
    const pageBytes = this.pool.pageBytes;
    if (this.copier && pages * pageBytes >= MIN_PARALLEL_BYTES) {
      return this.copier.copy(this.dst, runs, pageBytes, timeoutMs).then(() => {
        if (this.broken) throw this.error(this.broken); // closed while the workers copied
        return this.landed(start, pages, runs.length);
      });
    }
    for (const r of runs) copyBytes(this.dst, r.dst * pageBytes, this.src, r.src * pageBytes, r.count * pageBytes);
    return this.landed(start, pages, runs.length);
  }

  /** The result of a write whose bytes are all in the peer's pool, once the owner is known to be alive (at most OWNER_CHECK_MS ago). */
  private landed(start: number, pages: number, runs: number): WriteResult {
    const end = performance.now();
    if (end - this.ownerSeenAt >= OWNER_CHECK_MS) {
      if (!this.peer.ownerAlive()) {
        this.broken = 'the decode process that owns the pool is gone';
        throw this.error(this.broken);
      }
      this.ownerSeenAt = end;
    }
    return { bytes: pages * this.pool.pageBytes, runs, ms: end - start };
  }

  async close(): Promise<void> {
    this.broken ??= 'the sender was closed';
    await this.copier?.close();
    this.peer.close();
    this.lock.release();
  }

  private error(reason: string): KvLinkError {
    return new KvLinkError(`shm KV link to ${this.peer.name}: ${reason}`);
  }
}
