/**
 * A KV pool in POSIX shared memory: what a decode node of the shm backend builds its pool with, so
 * prefill processes on the same host can map it and write pages in directly. Segments left behind by
 * dead processes are swept first (see native/shm-names.ts). The caller owns the region: it unlinks
 * and closes it at shutdown, after everything using the pool has stopped.
 */
import { newShmName, sweepStaleShmRegions } from '../../../native/shm-names.js';
import { createShmRegion, type ShmRegion } from '../../../native/shm-region.js';
import { type KvLayout, pageBytes } from '../../kv/layout.js';
import { KvPool } from '../../kv/pool.js';

export function createShmKvPool(layout: KvLayout, numPages: number): { pool: KvPool; region: ShmRegion } {
  sweepStaleShmRegions();
  const region = createShmRegion(newShmName(), pageBytes(layout) * numPages);
  return { pool: new KvPool(layout, numPages, region.buffer), region };
}
