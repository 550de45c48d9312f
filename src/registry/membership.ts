/**
 * The registry's table of live nodes, independent of any socket.
 *
 * Decisions:
 * - A register replaces every record with the same id *or* the same httpUrl: a restarted node comes
 *   back under a new id but keeps its URL, and its dead predecessor must not stay routable.
 * - `epoch` counts membership changes only (a node added, removed, or its record changed). Heartbeats,
 *   queries and a register that repeats the stored record exactly leave it alone, so a consumer that
 *   cached a node list can compare epochs to know whether it is stale.
 * - One change = one event and one epoch step, even when it replaces two records or expires several:
 *   listeners apply `removed` then `added` and never see a half-applied state.
 * - Liveness uses a monotonic clock (performance.now), so a wall-clock jump cannot expire everyone.
 * - A listener that throws is logged and skipped: one bad subscriber must not break the registry.
 */
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log/logger.js';
import type { NodeRecord, RegisteredRole } from './protocol.js';

export interface MembershipChange {
  /** The epoch after this change. */
  epoch: number;
  cause: 'register' | 'deregister' | 'expired';
  added: NodeRecord[];
  removed: NodeRecord[];
}

export type MembershipListener = (change: MembershipChange) => void;

export interface NodeFilter {
  role?: RegisteredRole;
  id?: string;
}

interface Entry {
  record: NodeRecord;
  lastSeenMs: number;
}

export class Membership {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<MembershipListener>();
  private epochValue = 0;

  constructor(private readonly log: Logger) {}

  get epoch(): number {
    return this.epochValue;
  }

  /** Adds or replaces the node's record and marks it alive. */
  register(record: NodeRecord): void {
    const now = performance.now();
    const current = this.entries.get(record.id);
    const displaced = [...this.entries.values()].filter((e) => e.record.id === record.id || e.record.httpUrl === record.httpUrl);
    if (current && displaced.length === 1 && isDeepStrictEqual(current.record, record)) {
      current.lastSeenMs = now;
      return;
    }
    for (const e of displaced) this.entries.delete(e.record.id);
    this.entries.set(record.id, { record, lastSeenMs: now });
    this.commit('register', [record], displaced.map((e) => e.record));
  }

  /** Marks the node alive; false if the id is unknown (expired, or the registry restarted). */
  heartbeat(id: string): boolean {
    const entry = this.entries.get(id);
    if (entry) entry.lastSeenMs = performance.now();
    return entry !== undefined;
  }

  /** Idempotent: deregistering an unknown id is not an error (the node may have expired already). */
  deregister(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.commit('deregister', [], [entry.record]);
  }

  list(filter: NodeFilter = {}): NodeRecord[] {
    const records: NodeRecord[] = [];
    for (const { record } of this.entries.values()) {
      if ((filter.role === undefined || record.role === filter.role) && (filter.id === undefined || record.id === filter.id)) {
        records.push(record);
      }
    }
    return records;
  }

  /** Removes every node not seen for longer than `timeoutMs`. */
  expire(timeoutMs: number): void {
    const cutoff = performance.now() - timeoutMs;
    const expired = [...this.entries.values()].filter((e) => e.lastSeenMs < cutoff);
    if (expired.length === 0) return;
    for (const e of expired) this.entries.delete(e.record.id);
    this.commit('expired', [], expired.map((e) => e.record));
  }

  /** Returns the unsubscribe function. */
  onChange(listener: MembershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private commit(cause: MembershipChange['cause'], added: NodeRecord[], removed: NodeRecord[]): void {
    this.epochValue++;
    const change: MembershipChange = { epoch: this.epochValue, cause, added, removed };
    this.log.info(
      { epoch: change.epoch, cause, added: added.map((r) => `${r.role}:${r.id}`), removed: removed.map((r) => `${r.role}:${r.id}`) },
      'registry membership changed',
    );
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.log.error({ err }, 'registry change listener threw; ignored');
      }
    }
  }
}
