/**
 * The shm backend as the rest of pd-node sees it (transfer-backend.ts): `--shm-copy-threads` (how
 * many threads copy a large write, parallel-copy.ts); a decode pool in POSIX shared memory (prefill
 * processes on the host map it); endpoints name that object, not a host, so they are published as
 * they are; pd-bench compares it with Buffer.copy and libc's memcpy (and maps the receiver's pool to
 * copy into the very memory the backend writes).
 */
import { openShmRegion } from '../../../native/shm-region.js';
import { decimalIntegerIn } from '../../util/decimal-integer.js';
import type { TransferBackend } from '../transfer-backend.js';
import { parseShmEndpoint, type ShmEndpoint } from './endpoint.js';
import { MAX_COPY_THREADS, MIN_PARALLEL_BYTES } from './parallel-copy.js';
import { ShmKvManager } from './shm-kv-manager.js';
import { createShmKvPool } from './shm-kv-pool.js';

export interface ShmSettings {
  /** Threads that copy one large write (the transfer actor's own included); 1: it copies alone. */
  readonly copyThreads: number;
}

/**
 * The default: the transfer actor copies alone. Parallel copy is for hosts where one thread's copy
 * leaves memory bandwidth unused, which no host measured so far showed (this 2-core VM, memcpy on
 * both sides: 64 MiB at 22.5 GB/s with 1 thread, 21.4 with 2; bench/README.md "Parallel shm
 * copy"). Measure with bench/shm-copy-threads.ts before raising it.
 */
const DEFAULT_COPY_THREADS = 1;

export const SHM_BACKEND: TransferBackend<ShmSettings, ShmEndpoint> = {
  name: 'shm',
  needs: 'needs both nodes on one host',
  defaults: { copyThreads: DEFAULT_COPY_THREADS },
  flags: [
    {
      name: 'shm-copy-threads',
      describe: `Threads that copy one large KV write (>= ${MIN_PARALLEL_BYTES / (1 << 20)} MiB) into the decode pool, 1-${MAX_COPY_THREADS}; 1 copies on the transfer actor's thread alone.`,
      defaultText: String(DEFAULT_COPY_THREADS),
      apply: (settings, raw, flag) => {
        const copyThreads = decimalIntegerIn(raw, 1, MAX_COPY_THREADS);
        if (copyThreads === null) throw new Error(`${flag} must be an integer from 1 to ${MAX_COPY_THREADS} (got "${raw}")`);
        return { ...settings, copyThreads };
      },
    },
  ],
  parseEndpoint: parseShmEndpoint,
  publish: (endpoint) => endpoint,
  createPool: createShmKvPool,
  createManager: async (settings, env) => new ShmKvManager(env.onRefuse, settings.copyThreads),
  unavailable: async () => null,
  bench: {
    baseline: 'Buffer.copy',
    reference: 'memcpy',
    mapPeerPool: (endpoint) => {
      const { name, bytes } = endpoint as ShmEndpoint;
      return openShmRegion(name, bytes);
    },
  },
};
