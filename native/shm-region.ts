/**
 * POSIX shared-memory regions mapped into this process as ArrayBuffers (the shm transfer backend's
 * decode pool, which a prefill process on the same host maps and writes into).
 *
 * Decisions:
 * - A region is one header page (REGION_HEADER_BYTES) and a body of `bytes`: the creator writes into
 *   the header what the region is (the shm pool's header, src/transfer/shm/pool-header.ts), so an
 *   opener can check that before it writes a byte; the body starts page-aligned after it.
 * - The creator backs every page at creation (posix_fallocate after ftruncate): tmpfs accepts a
 *   size larger than its free room, and the first write past it would kill the process with SIGBUS;
 *   this way a too-small /dev/shm is a clear error at start-up instead.
 * - The creator holds an exclusive flock on its fd for the region's life. The kernel drops it when
 *   the creator closes the region or dies (even by SIGKILL), so an opener can tell a live pool from a
 *   dead one (`ownerAlive`) without pids, which would not survive PID namespaces.
 * - Objects are private to the user: created 0600 (fchmod after shm_open, whatever the umask), and
 *   an opener maps only a regular file owned by its own uid, of mode 0600 and of exactly the size the
 *   creator announced (header + body). A name can arrive from a hostile peer: any other object (a
 *   file of another program, another user's, a FIFO planted under the name, which O_NONBLOCK keeps
 *   from blocking the open) is refused before it is mapped, naming the object and what is wrong.
 * - SIGBUS: touching a mapped page past the object's end kills the process, and a same-user process
 *   can ftruncate the object at any time. `intact()` (the size lseek reports) says whether the object still has its
 *   size; writers check it before every batch of writes. What remains is the window between that
 *   check and the copy: see src/transfer/shm/shm-sender.ts for why that is acceptable.
 * - Each region keeps its fd open (the lock lives on it) and is registered by its body buffer, so
 *   code that only holds a pool can find the region behind it (`shmRegionOf`).
 * - The buffers are external memory: after `close()` (munmap) touching them crashes the process, so
 *   close a region only once nothing uses its buffers any more; `close` is idempotent.
 * - Names are checked (one leading slash, no other): they arrive from the network (the registry).
 */
import { existsSync, fchmodSync, fstatSync, statfsSync, type Stats } from 'node:fs';
import * as libc from './libc.js';

export interface ShmRegion {
  readonly name: string;
  /**
   * The body's address, for views of it in other threads of this process (`viewOf` in native/libc.ts):
   * valid until `close()`, so those threads must have exited before it.
   */
  readonly address: bigint;
  /** Bytes of the body. */
  readonly bytes: number;
  /** The body (shared, read-write). Valid until `close()`. */
  readonly buffer: ArrayBuffer;
  /** The header page (shared, read-write). Valid until `close()`. */
  readonly header: ArrayBuffer;
  /** Whether the creating process still holds the region (false once it closed it or exited). */
  ownerAlive(): boolean;
  /** Whether the object still has its full size (lseek to its end): touching a shrunken mapping is SIGBUS. */
  intact(): boolean;
  /** Removes the name (mappings stay valid until closed). */
  unlink(): void;
  /** Unmaps the region and closes its fd. */
  close(): void;
  /** What `releaseShmRegion` needs to end this region from another thread of this process. */
  readonly handle: ShmRegionHandle;
}

/**
 * A region as plain data (structured-cloneable): a creator's region can then be released by the
 * thread that outlives every thread using it (a decode node's pool: its scheduler worker makes it,
 * the main thread releases it once that worker, and every worker under it, has exited).
 */
export interface ShmRegionHandle {
  readonly name: string;
  readonly fd: number;
  /** The mapping: header page and body. */
  readonly mapAddress: bigint;
  readonly mapBytes: number;
}

/** One page: the body that follows stays page-aligned. */
export const REGION_HEADER_BYTES = 4096;
/** Where glibc's shm_open puts its objects. */
export const SHM_DIR = '/dev/shm';
/** Read-write for the user only: only this user's processes (and root) can open, write or truncate it. */
export const PRIVATE_MODE = 0o600;
const NAME = /^\/[A-Za-z0-9._-]{1,250}$/;
const regions = new WeakMap<ArrayBufferLike, ShmRegion>();

/** The region whose body a buffer is, if it is one. */
export function shmRegionOf(buffer: ArrayBufferLike): ShmRegion | undefined {
  return regions.get(buffer);
}

/** Creates a new object (fails if `name` exists) of a header page and `bytes` of body, backs and maps it; the caller owns and unlinks it. */
export function createShmRegion(name: string, bytes: number): ShmRegion {
  checkArgs(name, bytes);
  if (!existsSync(SHM_DIR)) {
    throw new Error(
      `POSIX shared memory needs a tmpfs at ${SHM_DIR}, which is missing: mount one (mount -t tmpfs -o size=<pool size> tmpfs ${SHM_DIR}; ` +
        'in Docker it is there by default, sized by --shm-size) or use --disaggregation-transfer-backend tcp',
    );
  }
  const total = REGION_HEADER_BYTES + bytes;
  const fd = libc.shmOpen(name, libc.O_RDWR | libc.O_CREAT | libc.O_EXCL, PRIVATE_MODE);
  try {
    fchmodSync(fd, PRIVATE_MODE);
    libc.flock(fd, libc.LOCK_EX);
    libc.ftruncate(fd, total);
    try {
      libc.fallocate(fd, total);
    } catch (err) {
      if (err instanceof libc.LibcError && err.code === 'ENOSPC') {
        const s = statfsSync(SHM_DIR);
        throw new Error(
          `${SHM_DIR} has ${s.bavail * s.bsize} B free, the KV pool needs ${total} B: enlarge it (Docker: --shm-size) ` +
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

/**
 * Maps an existing object whose creator announced a body of `bytes`, after checking it is one of
 * ours (a regular file of this uid, mode 0600, exactly header + `bytes`); refuses anything else.
 */
export function openShmRegion(name: string, bytes: number): ShmRegion {
  checkArgs(name, bytes);
  const fd = libc.shmOpen(name, libc.O_RDWR | libc.O_NONBLOCK, 0);
  try {
    const s = fstatSync(fd);
    const total = REGION_HEADER_BYTES + bytes;
    const why = notPrivate(s) ?? (s.size === total ? null : `holds ${s.size} B, its owner announced ${total} B (${REGION_HEADER_BYTES} B header + ${bytes} B)`);
    if (why) throw new Error(`refusing shm object ${name}: ${why}`);
    return map(name, fd, bytes, false);
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

/** Why a file is not a private object of this user, a regular file of mode 0600 (null: it is one). */
export function notPrivate(s: Stats): string | null {
  if (!s.isFile()) return 'not a regular file';
  if (s.uid !== process.geteuid!()) return `owned by uid ${s.uid}, not by this process's uid ${process.geteuid!()}`;
  if ((s.mode & 0o7777) !== PRIVATE_MODE) return `mode ${(s.mode & 0o7777).toString(8).padStart(4, '0')}, not 0600`;
  return null;
}

/**
 * Unmaps a region by its handle, closes its fd (which drops a creator's lock, so openers see it
 * gone) and removes its name if still there. Only for a region whose `close` will never be called
 * and whose buffers no thread touches any more.
 */
export function releaseShmRegion(h: ShmRegionHandle): void {
  unmapAndClose(h);
  try {
    libc.shmUnlink(h.name);
  } catch (err) {
    if (!(err instanceof libc.LibcError && err.code === 'ENOENT')) throw err;
  }
}

function unmapAndClose(h: ShmRegionHandle): void {
  libc.munmap(h.mapAddress, h.mapBytes);
  libc.close(h.fd);
}

/** Whether the creator of an existing object still holds it (opens and closes it to ask). */
export function shmOwnerAlive(name: string): boolean {
  checkArgs(name, 1);
  const fd = libc.shmOpen(name, libc.O_RDWR | libc.O_NONBLOCK, 0);
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
  if (!NAME.test(name)) throw new Error(`bad shm object name ${JSON.stringify(name)}: expected "/" and 1-250 of [A-Za-z0-9._-]`);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`bad shm object size ${bytes}`);
}

function map(name: string, fd: number, bytes: number, owner: boolean): ShmRegion {
  const total = REGION_HEADER_BYTES + bytes;
  const addr = libc.mmapShared(fd, total);
  const header = libc.viewOf(addr, REGION_HEADER_BYTES);
  const buffer = libc.viewOf(addr + BigInt(REGION_HEADER_BYTES), bytes);
  const handle: ShmRegionHandle = { name, fd, mapAddress: addr, mapBytes: total };
  let open = true;
  const region: ShmRegion = {
    name,
    address: addr + BigInt(REGION_HEADER_BYTES),
    bytes,
    buffer,
    header,
    ownerAlive: () => (owner ? open : open && lockHeld(fd)),
    intact: () => open && libc.fileSize(fd) === total,
    unlink: () => libc.shmUnlink(name),
    handle,
    close: () => {
      if (!open) return;
      open = false;
      regions.delete(buffer);
      unmapAndClose(handle);
    },
  };
  regions.set(buffer, region);
  return region;
}
