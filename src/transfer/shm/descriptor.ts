/**
 * The shm backend as the rest of pd-node sees it (transfer-backend.ts): no flags; a decode pool in
 * POSIX shared memory (prefill processes on the host map it); endpoints name that object, not a
 * host, so they are published as they are; pd-bench compares it with Buffer.copy (and maps the
 * receiver's pool to copy into the very memory the backend writes).
 */
import { openShmRegion } from '../../../native/shm-region.js';
import type { TransferBackend } from '../transfer-backend.js';
import { parseShmEndpoint, type ShmEndpoint } from './endpoint.js';
import { ShmKvManager } from './shm-kv-manager.js';
import { createShmKvPool } from './shm-kv-pool.js';

export const SHM_BACKEND: TransferBackend<Record<string, never>, ShmEndpoint> = {
  name: 'shm',
  needs: 'needs both nodes on one host',
  defaults: {},
  flags: [],
  parseEndpoint: parseShmEndpoint,
  publish: (endpoint) => endpoint,
  createPool: createShmKvPool,
  createManager: async (_settings, env) => new ShmKvManager(env.onRefuse),
  unavailable: async () => null,
  bench: {
    baseline: 'Buffer.copy',
    reference: null,
    mapPeerPool: (endpoint) => {
      const { name, bytes } = endpoint as ShmEndpoint;
      return openShmRegion(name, bytes);
    },
  },
};
