/**
 * The shm backend as the rest of pd-node sees it (transfer-backend.ts): `--shm-copy-threads` (how
 * many threads copy a large write, parallel-copy.ts); a decode pool in POSIX shared memory (prefill
 * processes on the host map it); endpoints name that object, not a host, so they are published as
 * they are; pd-bench compares it with Buffer.copy (and maps the receiver's pool to copy into the
 * very memory the backend writes).
 */
import { availableParallelism } from 'node:os';
import { openShmRegion } from '../../../native/shm-region.js';
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
 * The default: half the host's cores, at most DEFAULT_MAX_COPY_THREADS, at least 1. A copy thread
 * without a core of its own only takes turns with the engine's; and where one thread already fills
 * the memory bandwidth (this 2-core VM: 1 thread 15-17 GB/s, 2 threads 15-19 GB/s, bench/README.md
 * "Parallel shm copy") more threads give nothing. Four threads of ~12 GB/s each are about a 400 Gb/s
 * NIC's rate, what the RDMA path gives a prompt's KV.
 */
const DEFAULT_MAX_COPY_THREADS = 4;
const DEFAULT_COPY_THREADS = Math.max(1, Math.min(DEFAULT_MAX_COPY_THREADS, Math.floor(availableParallelism() / 2)));

export const SHM_BACKEND: TransferBackend<ShmSettings, ShmEndpoint> = {
  name: 'shm',
  needs: 'needs both nodes on one host',
  defaults: { copyThreads: DEFAULT_COPY_THREADS },
  flags: [
    {
      name: 'shm-copy-threads',
      describe: `Threads that copy one large KV write (>= ${MIN_PARALLEL_BYTES / (1 << 20)} MiB) into the decode pool, 1-${MAX_COPY_THREADS}; 1 copies on the transfer actor's thread alone.`,
      defaultText: `half the cores, 1-${DEFAULT_MAX_COPY_THREADS}`,
      apply: (settings, raw, flag) => {
        const n = Number(raw);
        if (!/^\d+$/.test(raw) || n < 1 || n > MAX_COPY_THREADS) throw new Error(`${flag} must be an integer from 1 to ${MAX_COPY_THREADS} (got "${raw}")`);
        return { ...settings, copyThreads: n };
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
    reference: null,
    mapPeerPool: (endpoint) => {
      const { name, bytes } = endpoint as ShmEndpoint;
      return openShmRegion(name, bytes);
    },
  },
};
