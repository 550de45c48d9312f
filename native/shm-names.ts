/**
 * Names of pd-node's shared-memory segments, and clean-up of those left by dead processes.
 *
 * Decisions: a name is `/pd-node-<pid>-<12 hex>`: the pid says who made it, the random part keeps
 * two pools of one process (or a reused pid) apart. A process killed by SIGKILL cannot unlink its
 * pool, and tmpfs pages stay allocated until someone does; so before creating a pool, segments are
 * swept whose maker is gone by BOTH tests: its pid does not exist here AND nobody holds its owner
 * lock. The pid test alone would be fooled by PID namespaces, the lock test alone would race a maker
 * between its shm_open and its flock.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { shmUnlink } from './libc.js';
import { shmOwnerAlive } from './shm-region.js';

const PATTERN = /^pd-node-(\d+)-[0-9a-f]{12}$/;

export function newShmName(): string {
  return `/pd-node-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Unlinks pd-node segments whose makers are gone; returns their names. */
export function sweepStaleShmRegions(dir = '/dev/shm'): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const entry of entries) {
    const m = PATTERN.exec(entry);
    if (!m || pidExists(Number(m[1]))) continue;
    const name = `/${entry}`;
    try {
      if (shmOwnerAlive(name)) continue;
      shmUnlink(name);
      swept.push(name);
    } catch {
      // another user's segment (EACCES) or swept concurrently (ENOENT): not ours to handle
    }
  }
  return swept;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
