/**
 * The shm transfer backend: the decode pool lives in POSIX shared memory (createShmKvPool) and a
 * prefill process on the same host maps it and copies pages in directly; only the completion notice
 * travels over the network.
 *
 * Decisions: `listen` needs the pool to BE a shared-memory region (it cannot move a pool there) and
 * publishes its name, size and this kernel's id; it opens nothing, so its receiver's `close` has
 * nothing to release (the region belongs to whoever created the pool). `connect` refuses a peer under
 * another kernel before trying to open anything, and explains a segment that cannot be found.
 * Page sizes cannot be compared here (the endpoint does not carry them): the PD handshake compares
 * KV layouts before any transfer.
 */
import { LibcError } from '../../../native/libc.js';
import { openShmRegion, shmRegionOf } from '../../../native/shm-region.js';
import type { KvEndpoint, KvManager, KvReceiver, KvSender, PoolRegion } from '../kv-transfer.js';
import { localHostId } from './host-id.js';
import { ShmKvSender } from './shm-sender.js';

export class ShmKvManager implements KvManager {
  readonly backend = 'shm';

  async listen(pool: PoolRegion): Promise<KvReceiver> {
    const region = shmRegionOf(pool.buffer);
    if (!region) throw new Error('the shm backend needs the decode pool in shared memory: build it with createShmKvPool');
    const endpoint: KvEndpoint = { backend: 'shm', name: region.name, bytes: region.bytes, hostId: localHostId() };
    // One-sided writes the receiver cannot stop: only the writer's word ends a room, and a writer
    // is never known to be gone yet, so its rooms' pages stay quarantined.
    return {
      endpoint,
      grant: () => {},
      release: async (_room, how) => how === 'confirmed',
      cutWriter: async () => false,
      close: async () => {},
    };
  }

  async connect(peer: KvEndpoint, pool: PoolRegion): Promise<KvSender> {
    if (peer.backend !== 'shm') throw new Error(`the shm backend cannot connect to a ${peer.backend} endpoint`);
    if (peer.hostId !== localHostId()) {
      throw new Error(
        `the shm decode node runs on another host (host id ${peer.hostId}, ours ${localHostId()}); shm only works within one machine: ` +
          'use --disaggregation-transfer-backend tcp',
      );
    }
    if (peer.bytes % pool.pageBytes !== 0) throw new Error(`shm peer pool of ${peer.bytes} B is not whole pages of ${pool.pageBytes} B`);
    try {
      return new ShmKvSender(openShmRegion(peer.name, peer.bytes), pool);
    } catch (err) {
      if (err instanceof LibcError && err.code === 'ENOENT') {
        throw new Error(`shm segment ${peer.name} does not exist: the decode node exited, or runs in another IPC namespace (container) than this one`);
      }
      throw err;
    }
  }
}
