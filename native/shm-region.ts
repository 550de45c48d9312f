/**
 * POSIX shared-memory regions mapped into this process as ArrayBuffers (the shm transfer backend's
 * decode pool, which a prefill process on the same host maps and writes into).
 *
 * Decisions:
 * - The creator backs every page at creation (posix_fallocate after ftruncate): tmpfs accepts a
 *   size larger than its free room, and the first write past it would kill the process with SIGBUS;
 *   this way a too-small /dev/shm is a clear error at start-up instead.
 * - The creator holds an exclusive flock on its fd for the region's life. The kernel drops it when
 *   the creator closes the region or dies (even by SIGKILL), so an opener can tell a live pool from a
 *   dead one (`ownerAlive`) without pids, which would not survive PID namespaces.
 * - The opener checks the segment's size (fstat) against the size the creator announced, so a stale
 *   or foreign segment of another size is refused before anything is written.
 * - Each region keeps its fd open (the lock lives on it) and is registered by its buffer, so code that
 *   only holds a pool can find the region behind it (`shmRegionOf`).
 * - The buffer is external memory: after `close()` (munmap) touching it crashes the process, so close
 *   a region only once nothing uses its buffer any more; `close` is idempotent.
 * - Names are checked (one leading slash, no other): they arrive from the network (the registry).
 */
import { existsSync, fstatSync, statfsSync } from 'node:fs';
import * as libc from './libc.js';

export interface ShmRegion {
  readonly name: string;
  readonly bytes: number;
  /** The mapping (shared, read-write). Valid until `close()`. */
  readonly buffer: ArrayBuffer;
  /** Whether the creating process still holds the region (false once it closed it or exited). */
  ownerAlive(): boolean;
  /** Removes the name (mappings stay valid until closed). */
  unlink(): void;
  /** Unmaps the region and closes its fd. */
  close(): void;
}

const SHM_DIR = '/dev/shm';
const NAME = /^\/[A-Za-z0-9._-]{1,250}$/;
const regions = new WeakMap<ArrayBufferLike, ShmRegion>();

/** The region a buffer maps, if it is one. */
export function shmRegionOf(buffer: ArrayBufferLike): ShmRegion | undefined {
  return regions.get(buffer);
}

/** Creates a new segment (fails if `name` exists), backs and maps it; the caller owns and unlinks it. */
export function createShmRegion(name: string, bytes: number): ShmRegion {
  checkArgs(name, bytes);
  if (!existsSync(SHM_DIR)) {
    throw new Error(
      `POSIX shared memory needs a tmpfs at ${SHM_DIR}, which is missing: mount one (mount -t tmpfs -o size=<pool size> tmpfs ${SHM_DIR}; ` +
        'in Docker it is there by default, sized by --shm-size) or use --disaggregation-transfer-backend tcp',
    );
  }
  const fd = libc.shmOpen(name, libc.O_RDWR | libc.O_CREAT | libc.O_EXCL, 0o600);
  try {
    libc.flock(fd, libc.LOCK_EX);
    libc.ftruncate(fd, bytes);
    try {
      libc.fallocate(fd, bytes);
    } catch (err) {
      if (err instanceof libc.LibcError && err.code === 'ENOSPC') {
        const s = statfsSync(SHM_DIR);
        throw new Error(
          `${SHM_DIR} has ${s.bavail * s.bsize} B free, the KV pool needs ${bytes} B: enlarge it (Docker: --shm-size) ` +
            'or make the pool smaller (--max-total-tokens), or use --disaggregation-transfer-backend tcp',
        );
      }
      throw err;
    }
    return map(name, fd, bytes, true);
  } catch (err) {
    libc.close(fd);
    libc.shmUnlink(name);
    throw err;
  }
}

/** Maps an existing segment whose creator announced `bytes`; refuses one of another size. */
export function openShmRegion(name: string, bytes: number): ShmRegion {
  checkArgs(name, bytes);
  const fd = libc.shmOpen(name, libc.O_RDWR, 0);
  try {
    const size = fstatSync(fd).size;
    if (size !== bytes) throw new Error(`shm segment ${name} holds ${size} B, its owner announced ${bytes} B`);
    return map(name, fd, bytes, false);
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

/** Whether the creator of an existing segment still holds it (opens and closes it to ask). */
export function shmOwnerAlive(name: string): boolean {
  checkArgs(name, 1);
  const fd = libc.shmOpen(name, libc.O_RDWR, 0);
  try {
    return lockHeld(fd);
  } finally {
    libc.close(fd);
  }
}

/** Another open file holds the exclusive lock iff a non-blocking shared lock is refused. */
function lockHeld(fd: number): boolean {
  if (!libc.flock(fd, libc.LOCK_SH | libc.LOCK_NB)) return true;
  libc.flock(fd, libc.LOCK_UN);
  return false;
}

function checkArgs(name: string, bytes: number): void {
  if (!NAME.test(name)) throw new Error(`bad shm segment name ${JSON.stringify(name)}: expected "/" and 1-250 of [A-Za-z0-9._-]`);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`bad shm segment size ${bytes}`);
}

function map(name: string, fd: number, bytes: number, owner: boolean): ShmRegion {
  const addr = libc.mmapShared(fd, bytes);
  const buffer = libc.viewOf(addr, bytes);
  let open = true;
  const region: ShmRegion = {
    name,
    bytes,
    buffer,
    ownerAlive: () => (owner ? open : open && lockHeld(fd)),
    unlink: () => libc.shmUnlink(name),
    close: () => {
      if (!open) return;
      open = false;
      regions.delete(buffer);
      libc.munmap(addr, bytes);
      libc.close(fd);
    },
  };
  regions.set(buffer, region);
  return region;
}
