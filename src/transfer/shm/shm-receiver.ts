/**
 * The shm backend's receiver (decode side). Prefill processes copy into the pool themselves, so
 * there is no connection to serve and no write to check: what the receiver decides is when a room's
 * pages can be reused.
 *
 * Decisions:
 * - `grant` records nothing: a copy into shared memory cannot be checked against a grant.
 * - `release`: only the writer's word (`confirmed`: kv_done or its room_failed) says none of the
 *   room's bytes is still to come; otherwise false, and the caller keeps the pages quarantined.
 * - `cutWriter`: true only once no process of that writer holds its writer lock (writer-lock.ts): it
 *   exited or was killed; a stopped process holds it and may write when continued, so false. A cut
 *   writer is tombstoned and can never write into this pool again. A lock file that is not ours (a
 *   planted file) cannot prove anything: false, reported once per file through `onRefuse`.
 * - `close` removes the pool's writer locks and tombstones; the pool itself belongs to whoever
 *   created it.
 */
import { writerLockName } from '../../../native/shm-names.js';
import type { KvReceiver } from '../kv-transfer.js';
import type { ShmEndpoint } from './endpoint.js';
import { cutWriterLock, removeWriterLocks } from './writer-lock.js';

export class ShmKvReceiver implements KvReceiver {
  private readonly reported = new Set<string>();

  constructor(
    readonly endpoint: ShmEndpoint,
    private readonly onRefuse: (reason: string) => void,
  ) {}

  grant(): void {}

  async release(_room: string, how: 'confirmed' | 'unconfirmed'): Promise<boolean> {
    return how === 'confirmed';
  }

  async cutWriter(writer: string): Promise<boolean> {
    try {
      return cutWriterLock(writerLockName(this.endpoint.name, writer));
    } catch (err) {
      const reason = `shm receiver cannot tell whether writer ${writer} is gone: ${(err as Error).message}`;
      if (!this.reported.has(reason)) {
        this.reported.add(reason);
        this.onRefuse(reason);
      }
      return false;
    }
  }

  async close(): Promise<void> {
    removeWriterLocks(this.endpoint.name);
  }
}
