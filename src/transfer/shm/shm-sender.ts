/**
 * The shm backend's sender: a prefill process's mapping of one decode node's pool, written into
 * directly (one-sided, like an RDMA WRITE; the decode CPU is not involved).
 *
 * Decisions:
 * - One `Uint8Array.set` per run (the runs are contiguous on both sides; per MAX_VIEW_BYTES of a run
 *   beyond 1 GiB, see pool-views.ts), after every run was checked against both pools, so a bad write
 *   changes nothing.
 * - The copy is synchronous: when it returns every byte is in the peer's pool, so `timeoutMs` has no
 *   wait to bound (the copy of a whole prompt's pages takes milliseconds).
 * - After the copy the pool's owner must still hold the segment (its lock, see native/shm-region.ts):
 *   bytes written into a dead decode node's pool are lost, so the write fails at once instead of the
 *   room waiting for a notice nobody will read. A dead owner makes the sender dead for good
 *   (KvLinkError); a bad run is a plain Error.
 * - `close` unmaps the peer's pool; the sender must not be used afterwards (checked).
 */
import { performance } from 'node:perf_hooks';
import type { ShmRegion } from '../../../native/shm-region.js';
import type { KvSender, PageRun, PoolRegion, WriteResult } from '../kv-transfer.js';
import { KvLinkError } from '../link-error.js';
import { MAX_VIEW_BYTES } from '../pool-views.js';
import { checkRuns } from '../run-bounds.js';

export class ShmKvSender implements KvSender {
  private readonly peerPages: number;
  private broken: string | null = null;

  constructor(private readonly peer: ShmRegion, private readonly pool: PoolRegion) {
    this.peerPages = Math.floor(peer.bytes / pool.pageBytes);
  }

  async write(runs: readonly PageRun[], _timeoutMs: number): Promise<WriteResult> {
    if (this.broken) throw this.error(this.broken);
    const start = performance.now();
    const pages = checkRuns(runs, this.pool.numPages, this.peerPages);
    const pageBytes = this.pool.pageBytes;
    for (const r of runs) {
      const bytes = r.count * pageBytes;
      for (let at = 0; at < bytes; at += MAX_VIEW_BYTES) {
        const n = Math.min(MAX_VIEW_BYTES, bytes - at);
        new Uint8Array(this.peer.buffer, r.dst * pageBytes + at, n).set(new Uint8Array(this.pool.buffer, r.src * pageBytes + at, n));
      }
    }
    if (!this.peer.ownerAlive()) {
      this.broken = 'the decode process that owns the pool is gone';
      throw this.error(this.broken);
    }
    return { bytes: pages * pageBytes, runs: runs.length, ms: performance.now() - start };
  }

  async close(): Promise<void> {
    this.broken ??= 'the sender was closed';
    this.peer.close();
  }

  private error(reason: string): KvLinkError {
    return new KvLinkError(`shm KV link to ${this.peer.name}: ${reason}`);
  }
}
