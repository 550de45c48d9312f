/**
 * The shm transfer backend: the decode pool lives in POSIX shared memory (createShmKvPool) and a
 * prefill process on the same host maps it and copies pages in directly; only the completion notice
 * travels over the network.
 *
 * Decisions:
 * - `listen` needs the pool to BE a shared-memory region (it cannot move a pool there) and publishes
 *   its name, pool size, pool id (from its header) and this kernel's id.
 * - `connect` trusts nothing in the endpoint: the name reaches it in a peer's message. In this order,
 *   each refusal a plain Error naming the object (the rooms waiting on the link fail with 502, the
 *   process goes on): a peer under another kernel; a name that is not a pd-node pool's
 *   (native/shm-names.ts), so no other /dev/shm object is ever opened for writing; an object that is
 *   not a regular file of this uid, mode 0600, of exactly header + `bytes` (checked with fstat before
 *   mapping, native/shm-region.ts); then, mapped, a header whose magic, version, sizes or pool id
 *   differ from the endpoint's and our page size (pool-header.ts). Only then is the writer lock
 *   taken (writer-lock.ts), and it is held before the first byte is written.
 * - Page sizes are compared in the header; the PD handshake compares full KV layouts beforehand.
 * - With `copyThreads` > 1 each link starts its copy workers (parallel-copy.ts) after the lock is
 *   taken; they write through this link's mapping (checked above). A worker that cannot start fails the
 *   connect, like any other refusal.
 */
import { LibcError } from '../../../native/libc.js';
import { isPoolName, writerLockName } from '../../../native/shm-names.js';
import { openShmRegion, shmRegionOf, type ShmRegion } from '../../../native/shm-region.js';
import type { KvEndpoint, KvManager, KvReceiver, KvSender, PoolRegion } from '../kv-transfer.js';
import type { ShmEndpoint } from './endpoint.js';
import { localHostId } from './host-id.js';
import { POOL_ID, poolHeaderMismatch, poolIdOf } from './pool-header.js';
import { ShmKvReceiver } from './shm-receiver.js';
import { ParallelCopy } from './parallel-copy.js';
import { ShmKvSender } from './shm-sender.js';
import { holdWriterLock } from './writer-lock.js';

export class ShmKvManager implements KvManager {
  readonly backend = 'shm';

  /**
   * `onRefuse`: told when the receiver cannot judge a writer (see shm-receiver.ts). `copyThreads`:
   * threads that copy a large write, the link's own included (parallel-copy.ts).
   */
  constructor(private readonly onRefuse: (reason: string) => void, private readonly copyThreads = 1) {}

  async listen(pool: PoolRegion): Promise<KvReceiver> {
    const region = shmRegionOf(pool.buffer);
    if (!region) throw new Error('the shm backend needs the decode pool in shared memory: build it with createShmKvPool');
    return new ShmKvReceiver({ backend: 'shm', name: region.name, bytes: region.bytes, hostId: localHostId(), poolId: poolIdOf(region) }, this.onRefuse);
  }

  async connect(endpoint: KvEndpoint, pool: PoolRegion, writer: string): Promise<KvSender> {
    if (endpoint.backend !== 'shm') throw new Error(`the shm backend cannot connect to a ${endpoint.backend} endpoint`);
    const peer = endpoint as ShmEndpoint;
    if (peer.hostId !== localHostId()) {
      throw new Error(
        `the shm decode node runs on another host (host id ${peer.hostId}, ours ${localHostId()}); shm only works within one machine: ` +
          'use --disaggregation-transfer-backend tcp',
      );
    }
    if (!isPoolName(peer.name)) throw new Error(`refusing shm object ${JSON.stringify(peer.name)}: not a pd-node pool name (/pd-node-<pid>-<12 hex>)`);
    if (!POOL_ID.test(peer.poolId)) throw new Error(`refusing shm pool ${peer.name}: bad pool id ${JSON.stringify(peer.poolId)}`);
    if (peer.bytes % pool.pageBytes !== 0) throw new Error(`refusing shm pool ${peer.name}: ${peer.bytes} B is not whole pages of ${pool.pageBytes} B`);
    const lockName = writerLockName(peer.name, writer);
    const region = open(peer.name, peer.bytes);
    try {
      const mismatch = poolHeaderMismatch(region, { poolId: peer.poolId, pageBytes: pool.pageBytes });
      if (mismatch) throw new Error(`refusing shm pool ${peer.name}: ${mismatch}`);
      const lock = await holdWriterLock(lockName);
      try {
        const copier = await ParallelCopy.start({ name: peer.name, address: region.address, bytes: region.bytes }, pool.buffer, this.copyThreads);
        return new ShmKvSender(region, pool, lock, copier);
      } catch (err) {
        lock.release();
        throw err;
      }
    } catch (err) {
      region.close();
      throw err;
    }
  }
}

function open(name: string, bytes: number): ShmRegion {
  try {
    return openShmRegion(name, bytes);
  } catch (err) {
    if (err instanceof LibcError && err.code === 'ENOENT') {
      throw new Error(`shm pool ${name} does not exist: the decode node exited, or runs in another IPC namespace (container) than this one`);
    }
    throw err;
  }
}
