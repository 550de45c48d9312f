/**
 * The registry's table of live nodes, independent of any socket.
 *
 * Decisions:
 * - One live record per httpUrl. A register whose URL another live record of another owner holds is
 *   refused (`url_in_use`, logged once per held record): two nodes publishing one URL would displace
 *   each other on every heartbeat (issue 10), and the router would send each one's requests to
 *   whichever answers. A restarted node (new id, new owner token) takes its URL back once the old
 *   record is no longer live: the registry expires dead records before every register (the caller
 *   does, with its heartbeat timeout), so "live" is the same rule as expiry; the restarted node's
 *   client retries each heartbeat interval meanwhile. A register of the same owner (its own record
 *   under another id) replaces it.
 * - `epoch` counts membership changes only (a node added, removed, or its record changed). Heartbeats,
 *   queries and a register that repeats the stored record exactly leave it alone, so a consumer that
 *   cached a node list can compare epochs to know whether it is stale.
 * - One change = one event and one epoch step, even when it replaces two records or expires several:
 *   listeners apply `removed` then `added` and never see a half-applied state.
 * - Liveness uses a monotonic clock (performance.now), so a wall-clock jump cannot expire everyone.
 * - A listener that throws is logged and skipped: one bad subscriber must not break the registry.
 * - Every record has an owner (the token of the register that created it). While the record lives,
 *   only that owner may re-register, heartbeat or deregister it: a node holding the cluster secret
 *   still cannot take over, keep alive or remove another node's record. Once it expires or is
 *   deregistered the id is free.
 * - Deregistered and expired records are told apart for readers: the httpUrls of records removed by
 *   a deregister are remembered for DEREGISTERED_RETENTION_MS (at most MAX_DEREGISTERED of them) and
 *   listed in query answers, so a router drops a cleanly stopped node at once, while an expired one
 *   (perhaps only cut off from the registry) stays its health checks' business. A register at that
 *   URL takes it off the list.
 */
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log/logger.js';
import type { NodeRecord, RegisteredRole } from './protocol.js';

/**
 * How long a deregistered URL is listed: many router polls (default 500 ms) even on a busy machine,
 * so every router reachable meanwhile sees it; a router cut off longer finds the node down itself.
 */
export const DEREGISTERED_RETENTION_MS = 60_000;
/** Bound on the remembered URLs: a storm of restarts must not grow query answers without end. */
export const MAX_DEREGISTERED = 256;

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
  owner: string;
  lastSeenMs: number;
  /** Refusals logged for this record (once per kind per record: a peer retrying must not flood the log). */
  refusalsLogged: Set<'not_owner' | 'url_in_use'>;
}

/**
 * `not_owner`: the id is a live record another owner created; `url_in_use`: the httpUrl is a live
 * record's of another owner. Nothing changed in either case.
 */
export type ChangeOutcome = 'ok' | 'not_owner' | 'url_in_use';

export class Membership {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<MembershipListener>();
  private epochValue = 0;
  /** Deregistered httpUrls, oldest first, with when (performance.now). */
  private readonly departed: { url: string; atMs: number }[] = [];

  constructor(private readonly log: Logger) {}

  get epoch(): number {
    return this.epochValue;
  }

  /**
   * Adds or replaces the node's record and marks it alive, unless the id or the httpUrl belongs to
   * another owner's record. Expire dead records first (`expire`): every record here counts as live.
   */
  register(record: NodeRecord, owner: string): ChangeOutcome {
    const now = performance.now();
    const current = this.entries.get(record.id);
    if (current && current.owner !== owner) return this.refuse(current, 'register');
    const holder = [...this.entries.values()].find((e) => e.record.httpUrl === record.httpUrl && e.owner !== owner);
    if (holder) return this.refuse(holder, 'register', 'url_in_use');
    const displaced = [...this.entries.values()].filter((e) => e.record.id === record.id || e.record.httpUrl === record.httpUrl);
    if (current && displaced.length === 1 && isDeepStrictEqual(current.record, record)) {
      current.lastSeenMs = now;
      return 'ok';
    }
    for (const e of displaced) this.entries.delete(e.record.id);
    this.entries.set(record.id, { record, owner, lastSeenMs: now, refusalsLogged: new Set() });
    this.forgetDeparture(record.httpUrl);
    this.commit('register', [record], displaced.map((e) => e.record));
    return 'ok';
  }

  /** Marks the node alive; `unknown_node` if the id is unknown (expired, or the registry restarted). */
  heartbeat(id: string, owner: string): ChangeOutcome | 'unknown_node' {
    const entry = this.entries.get(id);
    if (!entry) return 'unknown_node';
    if (entry.owner !== owner) return this.refuse(entry, 'heartbeat');
    entry.lastSeenMs = performance.now();
    return 'ok';
  }

  /** Idempotent: deregistering an unknown id is not an error (the node may have expired already). */
  deregister(id: string, owner: string): ChangeOutcome {
    const entry = this.entries.get(id);
    if (!entry) return 'ok';
    if (entry.owner !== owner) return this.refuse(entry, 'deregister');
    this.entries.delete(id);
    this.forgetDeparture(entry.record.httpUrl);
    this.departed.push({ url: entry.record.httpUrl, atMs: performance.now() });
    if (this.departed.length > MAX_DEREGISTERED) this.departed.shift();
    this.commit('deregister', [], [entry.record]);
    return 'ok';
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

  /** httpUrls deregistered within the last DEREGISTERED_RETENTION_MS and not registered since. */
  deregistered(): string[] {
    const cutoff = performance.now() - DEREGISTERED_RETENTION_MS;
    while (this.departed.length > 0 && this.departed[0].atMs < cutoff) this.departed.shift();
    return this.departed.map((d) => d.url);
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

  private forgetDeparture(url: string): void {
    const i = this.departed.findIndex((d) => d.url === url);
    if (i >= 0) this.departed.splice(i, 1);
  }

  private refuse<K extends 'not_owner' | 'url_in_use'>(entry: Entry, what: string, kind: K = 'not_owner' as K): K {
    if (!entry.refusalsLogged.has(kind)) {
      entry.refusalsLogged.add(kind);
      const { id, role, httpUrl } = entry.record;
      if (kind === 'url_in_use') this.log.warn({ id, role, httpUrl, request: what }, 'registry refused a register: another owner registered a record at a URL this live record holds (logged once per record)');
      else this.log.warn({ id, role, request: what }, 'registry refused a change of a live record by another owner (logged once per record)');
    }
    return kind;
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
