/**
 * Moving a pool to the transfer worker without copying it. A SharedArrayBuffer is shared by posting
 * it. An shm pool's buffer is external memory, which postMessage would copy (and which must not be
 * unmapped under a worker), so the worker maps the segment again by name and owns that mapping.
 */
import { openShmRegion, shmRegionOf, type ShmRegion } from '../../native/shm-region.js';
import type { PoolRegion } from '../../src/transfer/kv-transfer.js';
import type { PoolSpec } from './protocol.js';

export function toPoolSpec(pool: PoolRegion): PoolSpec {
  const { pageBytes, numPages } = pool;
  if (pageBytes * numPages > pool.buffer.byteLength) throw new Error(`pool of ${numPages} x ${pageBytes} B pages is larger than its ${pool.buffer.byteLength} B buffer`);
  if (pool.buffer instanceof SharedArrayBuffer) return { kind: 'shared', buffer: pool.buffer, pageBytes, numPages };
  const region = shmRegionOf(pool.buffer);
  if (region) return { kind: 'shm', name: region.name, bytes: region.bytes, pageBytes, numPages };
  throw new Error('the transfer actor needs the pool in a SharedArrayBuffer or a shared-memory region: a plain ArrayBuffer cannot be shared with its worker');
}

/** The worker's view of the pool, and the mapping it must close at the end (shm only). */
export function fromPoolSpec(spec: PoolSpec): { pool: PoolRegion; mapping: ShmRegion | null } {
  const { pageBytes, numPages } = spec;
  if (spec.kind === 'shared') return { pool: { buffer: spec.buffer, pageBytes, numPages }, mapping: null };
  const mapping = openShmRegion(spec.name, spec.bytes);
  return { pool: { buffer: mapping.buffer, pageBytes, numPages }, mapping };
}
