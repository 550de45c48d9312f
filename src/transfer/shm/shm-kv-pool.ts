/**
 * A KV pool in POSIX shared memory: what a decode node of the shm backend builds its pool with, so
 * prefill processes on the same host can map it and write pages in directly. Objects left behind by
 * dead processes are swept first (see native/shm-names.ts); the pool header (pool-header.ts) is
 * written before anyone can learn the pool id. The caller owns the region: it releases it (unlinks,
 * unmaps, closes) once everything using the pool has stopped; a decode node's main thread does, by
 * the region's handle, after its scheduler worker exited (actors/scheduler/worker-scheduler-client.ts).
 */
import { newShmName, sweepStaleShmRegions } from '../../../native/shm-names.js';
import { createShmRegion, type ShmRegion } from '../../../native/shm-region.js';
import { type KvLayout, pageBytes } from '../../kv/layout.js';
import { KvPool } from '../../kv/pool.js';
import { writePoolHeader } from './pool-header.js';

export function createShmKvPool(layout: KvLayout, numPages: number): { pool: KvPool; region: ShmRegion } {
  sweepStaleShmRegions();
  const region = createShmRegion(newShmName(), pageBytes(layout) * numPages);
  writePoolHeader(region, pageBytes(layout));
  return { pool: new KvPool(layout, numPages, region.buffer), region };
}
