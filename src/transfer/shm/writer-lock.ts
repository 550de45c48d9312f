/**
 * Writer locks: how a decode node's shm receiver tells a writer that may still write into its pool
 * from one that cannot (KvReceiver.cutWriter). A prefill writes into the decode pool with plain
 * memory copies, which the decode node cannot stop; what it can know is whether the writing process
 * is gone.
 *
 * Decisions:
 * - Every sender holds, for its whole life, a shared flock on the file `<pool>.w-<writer>` in
 *   /dev/shm (native/shm-names.ts), taken before it may write a byte. The kernel drops the lock when
 *   the process dies, even by SIGKILL; a stopped process (SIGSTOP) keeps it: a stopped process is
 *   not gone, it writes when it is continued. Shared, so two senders of one writer (a link being
 *   replaced while the old one closes) do not lock each other out.
 * - The receiver's `cutWriter` tries the lock exclusively without waiting: refused -> a sender holds
 *   it -> false. Acquired (or the file absent, then created) -> no process of that writer can be
 *   writing -> the file becomes a tombstone (one byte long) -> true. A sender refuses a tombstone,
 *   so a cut writer never writes into that pool again, also one that had not connected yet when it
 *   was cut (it was stopped before its first write) or that reconnects after its link failed: the
 *   decode node gives the peer a new token. Tombstones go with the receiver (`removeWriterLocks` at
 *   close) or with the pool (sweepStaleShmRegions).
 * - Lock files are private like the pool (0600, this uid, regular file; checked on every open): a
 *   file another user planted under the name is refused, not trusted either way.
 * - Unlink races: a lock is valid only on the file the name still points to, so after taking a lock
 *   both sides compare the inode with the name's and start over when it changed (the other side
 *   removed the file meanwhile). A sender that closes removes the file only if it can take it
 *   exclusively (no other sender of the writer holds it) and it is not a tombstone.
 * - Waits: the receiver holds the exclusive lock only for a few syscalls, so a sender that finds it
 *   taken retries LOCK_ATTEMPTS times, LOCK_RETRY_MS apart, then fails the connect. The receiver
 *   never waits: it starts over at most LOCK_ATTEMPTS times when the file changed under it, then
 *   says false (the caller asks again on its next sweep).
 */
import { fchmodSync, fstatSync, statSync, type Stats } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import * as libc from '../../../native/libc.js';
import { writerLocksOf } from '../../../native/shm-names.js';
import { notPrivate, PRIVATE_MODE, SHM_DIR } from '../../../native/shm-region.js';

/** A receiver's probe holds the lock for microseconds; 20 x 5 ms is ample even on a busy host. */
const LOCK_ATTEMPTS = 20;
const LOCK_RETRY_MS = 5;
/** A tombstone is the lock file grown to this size; a live lock file is empty. */
const TOMBSTONE_BYTES = 1;

export interface WriterLock {
  /** Drops the lock (removing the file when no other sender of the writer holds it); idempotent. */
  release(): void;
}

/** Takes the writer's shared lock `name`; rejects if the writer was cut, or the lock stays taken. */
export async function holdWriterLock(name: string): Promise<WriterLock> {
  for (let attempt = 1; ; attempt++) {
    const fd = openLockFile(name);
    let kept = false;
    try {
      if (libc.flock(fd, libc.LOCK_SH | libc.LOCK_NB)) {
        const s = fstatSync(fd);
        if (isAtName(name, s)) {
          if (s.size >= TOMBSTONE_BYTES) throw new Error(`the decode node cut this writer (${name} is a tombstone): its rooms are over`);
          kept = true;
          let held = true;
          return {
            release: () => {
              if (held) release(name, fd);
              held = false;
            },
          };
        }
      }
    } finally {
      if (!kept) libc.close(fd);
    }
    if (attempt === LOCK_ATTEMPTS) throw new Error(`writer lock ${name} stayed taken through ${LOCK_ATTEMPTS} tries ${LOCK_RETRY_MS} ms apart`);
    await sleep(LOCK_RETRY_MS);
  }
}

/**
 * The receiver's side: true if no process holds the writer's lock, and then the writer is
 * tombstoned (never accepted again); false if a sender holds it (its process is alive or stopped).
 */
export function cutWriterLock(name: string): boolean {
  for (let attempt = 1; attempt <= LOCK_ATTEMPTS; attempt++) {
    const fd = openLockFile(name);
    try {
      if (!libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB)) return false;
      if (!isAtName(name, fstatSync(fd))) continue; // a closing sender removed it meanwhile: ask the new file
      libc.ftruncate(fd, TOMBSTONE_BYTES);
      return true;
    } finally {
      libc.close(fd); // drops the lock
    }
  }
  return false; // senders kept coming and going: ask again later
}

/** Removes every writer lock and tombstone of `pool` (its receiver is closing). */
export function removeWriterLocks(pool: string): void {
  for (const name of writerLocksOf(pool)) {
    try {
      libc.shmUnlink(name);
    } catch {
      // removed concurrently by its sender
    }
  }
}

/** Opens (creating if absent) the lock file; refuses a file that is not private to this user. */
function openLockFile(name: string): number {
  const fd = libc.shmOpen(name, libc.O_RDWR | libc.O_CREAT | libc.O_NONBLOCK, PRIVATE_MODE);
  try {
    try {
      fchmodSync(fd, PRIVATE_MODE); // a file we just created is 0600 whatever the umask
    } catch {
      // another user's file (EPERM): refused just below
    }
    const why = notPrivate(fstatSync(fd));
    if (why) throw new Error(`refusing writer lock ${name}: ${why}`);
    return fd;
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

/** Whether the file open as `s` is still the one at `name` (not removed or replaced meanwhile). */
function isAtName(name: string, s: Stats): boolean {
  const now = statSync(`${SHM_DIR}${name}`, { throwIfNoEntry: false });
  return now !== undefined && now.ino === s.ino && now.dev === s.dev;
}

function release(name: string, fd: number): void {
  try {
    // Converting to exclusive drops our shared lock first: only done now that we write no more.
    if (libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB)) {
      const s = fstatSync(fd);
      if (s.size < TOMBSTONE_BYTES && isAtName(name, s)) libc.shmUnlink(name);
    }
  } finally {
    libc.close(fd);
  }
}
