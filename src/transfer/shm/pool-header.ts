/**
 * The header page of an shm KV pool (native/shm-region.ts reserves it): what lets a prefill check
 * that the object a peer named is the decode pool it was told about before it writes a byte.
 *
 * Decisions:
 * - Little-endian fields: magic "PDNODEKV" (8 B), layout version (u32), 4 B zero, pool bytes (u64),
 *   page bytes (u64), pool id (16 random bytes). The version changes whenever this layout does, so
 *   an older or newer pd-node refuses the pool with a message instead of misreading it.
 * - The pool id is random per pool and published in the shm KvEndpoint (32 hex digits): a header
 *   that matches in everything but the id is another pool (another decode node of this user, or one
 *   whose name was reused), and is refused.
 * - Written by the creator before its endpoint is published, never changed afterwards.
 */
import { randomBytes } from 'node:crypto';
import type { ShmRegion } from '../../../native/shm-region.js';

const MAGIC = Buffer.from('PDNODEKV', 'latin1');
const VERSION = 1;
const AT = { magic: 0, version: 8, poolBytes: 16, pageBytes: 24, poolId: 32 } as const;
const POOL_ID_BYTES = 16;
/** A pool id as the endpoint carries it. */
export const POOL_ID = /^[0-9a-f]{32}$/;

/** Fills a new pool's header; returns its pool id (hex). */
export function writePoolHeader(region: ShmRegion, pageBytes: number): string {
  const id = randomBytes(POOL_ID_BYTES);
  const view = new DataView(region.header);
  new Uint8Array(region.header).set(MAGIC, AT.magic);
  view.setUint32(AT.version, VERSION, true);
  view.setBigUint64(AT.poolBytes, BigInt(region.bytes), true);
  view.setBigUint64(AT.pageBytes, BigInt(pageBytes), true);
  new Uint8Array(region.header).set(id, AT.poolId);
  return id.toString('hex');
}

/** The pool id in a region's header (its creator's, read back by the listening receiver). */
export function poolIdOf(region: ShmRegion): string {
  return Buffer.from(region.header, AT.poolId, POOL_ID_BYTES).toString('hex');
}

/** Why the region's header is not that of the pool `expect` describes (null: it is). */
export function poolHeaderMismatch(region: ShmRegion, expect: { poolId: string; pageBytes: number }): string | null {
  const view = new DataView(region.header);
  if (!Buffer.from(region.header, AT.magic, MAGIC.length).equals(MAGIC)) return 'no pd-node pool header (magic)';
  const version = view.getUint32(AT.version, true);
  if (version !== VERSION) return `pool header version ${version}, this pd-node reads version ${VERSION}`;
  const poolBytes = view.getBigUint64(AT.poolBytes, true);
  if (poolBytes !== BigInt(region.bytes)) return `the header says ${poolBytes} B of pool, the endpoint ${region.bytes} B`;
  const pageBytes = view.getBigUint64(AT.pageBytes, true);
  if (pageBytes !== BigInt(expect.pageBytes)) return `pages of ${pageBytes} B, ours are ${expect.pageBytes} B`;
  const id = poolIdOf(region);
  if (id !== expect.poolId) return `pool id ${id}, the endpoint names pool ${expect.poolId}`;
  return null;
}
