/**
 * Names of pd-node's shared-memory objects, and clean-up of those left by dead processes.
 *
 * Decisions:
 * - A pool is `/pd-node-<pid>-<12 hex>`: the pid says who made it, the random part keeps two pools
 *   of one process (or a reused pid) apart. Only objects of that form are ever opened as a pool
 *   (`isPoolName`): a name in a peer's message cannot make a prefill open any other /dev/shm object.
 * - A writer lock (src/transfer/shm/writer-lock.ts) is `<pool>.w-<writer token>`, so it is found
 *   from the pool and the token alone, and goes with its pool.
 * - A process killed by SIGKILL cannot unlink its pool, and tmpfs pages stay allocated until someone
 *   does; so before creating a pool, pools are swept whose maker is gone by BOTH tests: its pid does
 *   not exist here AND nobody holds its owner lock. The pid test alone would be fooled by PID
 *   namespaces, the lock test alone would race a maker between its shm_open and its flock. Writer
 *   locks whose pool is gone are swept with them: nothing can write into a pool that no longer has
 *   a name (a sender still holding such a lock holds it on a file nobody will ask about).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { shmUnlink } from './libc.js';
import { SHM_DIR, shmOwnerAlive } from './shm-region.js';

const POOL = /^pd-node-(\d+)-[0-9a-f]{12}$/;
const WRITER_LOCK = /^(pd-node-\d+-[0-9a-f]{12})\.w-[0-9a-f]{32}$/;
/** The decode node's per-prefill-peer writer token (minted by the decode node, 32 hex digits). */
const WRITER_TOKEN = /^[0-9a-f]{32}$/;

export function newShmName(): string {
  return `/pd-node-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Whether `name` (with its leading slash) names a pd-node pool. */
export function isPoolName(name: string): boolean {
  return name.startsWith('/') && POOL.test(name.slice(1));
}

/** The writer lock of `writer` on the pool `pool`; throws on a name that is not a pool's or a bad token. */
export function writerLockName(pool: string, writer: string): string {
  if (!isPoolName(pool)) throw new Error(`${JSON.stringify(pool)} is not a pd-node shm pool name`);
  if (!WRITER_TOKEN.test(writer)) throw new Error(`bad writer token ${JSON.stringify(writer)}: expected 32 hex digits`);
  return `${pool}.w-${writer}`;
}

/** The writer locks of `pool` that exist now (names with their leading slash). */
export function writerLocksOf(pool: string): string[] {
  return listDir(SHM_DIR)
    .filter((entry) => WRITER_LOCK.exec(entry)?.[1] === pool.slice(1))
    .map((entry) => `/${entry}`);
}

/** Unlinks pd-node pools whose makers are gone, and writer locks whose pools are gone; returns their names. */
export function sweepStaleShmRegions(dir = SHM_DIR): string[] {
  const entries = listDir(dir);
  const swept: string[] = [];
  for (const entry of entries) {
    const m = POOL.exec(entry);
    if (!m || pidExists(Number(m[1]))) continue;
    const name = `/${entry}`;
    try {
      if (shmOwnerAlive(name)) continue;
      shmUnlink(name);
      swept.push(name);
    } catch {
      // another user's object (EACCES) or swept concurrently (ENOENT): not ours to handle
    }
  }
  for (const entry of entries) {
    const m = WRITER_LOCK.exec(entry);
    if (!m || existsSync(`${dir}/${m[1]}`)) continue;
    try {
      shmUnlink(`/${entry}`);
      swept.push(`/${entry}`);
    } catch {
      // as above
    }
  }
  return swept;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
