/**
 * A KV layout that is nothing but a page size: the transfer benchmark moves bytes, and pools (the
 * shm one included) are built from a layout. One layer, float16 entries, one token per page.
 */
import type { KvLayout } from '../../src/kv/layout.js';

export function byteLayout(pageBytes: number): KvLayout {
  if (pageBytes % 2 !== 0) throw new Error(`page bytes must be even (got ${pageBytes})`);
  return { numLayers: 1, entriesPerToken: pageBytes / 2, dtype: 'float16', pageSize: 1 };
}
