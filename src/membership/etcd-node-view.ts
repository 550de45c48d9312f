/**
 * A router's view of the membership in etcd: a watch on /pd-node/ plus an initial read, kept in
 * memory, handed to the router's node pool as its `NodeSource` (the pool polls `list()`; answering
 * from memory costs nothing).
 *
 * Decisions:
 * - Watch first, then read: the watch delivers every change from its start in order, and the read
 *   is at least as new as that start, so applying the read and then the (possibly overlapping)
 *   events converges to etcd's state. The etcd3 client re-establishes a broken watch itself and
 *   resumes it from the last revision seen, failing over between members.
 * - Until the first read succeeded `list()` rejects (the pool logs "node source poll failed" once
 *   and keeps its static nodes); the read is retried every RETRY_MS, each attempt bounded.
 * - Records are read with the ZeroMQ registry's own checks (readStoredNodeRecord: known fields only), and the key must match the record
 *   (role and id): anything else is skipped and logged once per key, never handed to the router.
 * - Expiry is a hint, as with the ZeroMQ registry: a record whose lease ran out is simply no longer
 *   listed and the router's health checks decide; a record removed by a deregister comes with a
 *   /pd-node/left/<id> marker, listed as `deregistered` so the router drops the node at once.
 */
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../log/logger.js';
import { withTimeout } from '../node/timeout.js';
import { readStoredNodeRecord } from '../registry/messages.js';
import type { NodeRecord } from '../registry/protocol.js';
import type { NodeListing } from '../router/node-source.js';
import { etcdClient } from './etcd-client.js';
import { ETCD_PREFIX, LEFT_PREFIX, nodeKey, NODES_PREFIX } from './etcd-url.js';
import type { MembershipOptions, MembershipView } from './membership.js';

/** Pause between attempts of the initial read while etcd cannot be reached. */
const RETRY_MS = 1000;
const DEFAULT_REQUEST_TIMEOUT_MS = 2000;

export class EtcdNodeView implements MembershipView {
  private readonly nodes = new Map<string, NodeRecord>();
  /** left/<id> key -> httpUrl. */
  private readonly left = new Map<string, string>();
  /** Keys already logged as invalid (a bad record is logged once, not on every watch event). */
  private readonly reported = new Set<string>();
  private synced = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly client: Etcd3,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {
    const watcher = client.watch().prefix(ETCD_PREFIX).watcher();
    watcher.on('put', (kv) => this.put(kv.key.toString(), kv.value.toString()));
    watcher.on('delete', (kv) => this.remove(kv.key.toString()));
    watcher.on('disconnected', (err) => log.warn({ err: err.message }, 'etcd watch disconnected; reconnecting'));
    watcher.on('error', (err) => log.warn({ err: err.message }, 'etcd watch error'));
    void this.read();
  }

  static open(url: string, options: MembershipOptions): EtcdNodeView {
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const client = etcdClient(url, timeoutMs, options.etcd);
    return new EtcdNodeView(client, timeoutMs, options.log.child({ registry: url }));
  }

  async list(): Promise<NodeListing> {
    if (!this.synced) throw new Error('etcd not read yet');
    return { nodes: [...this.nodes.values()], deregistered: [...this.left.values()] };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.client.close();
  }

  private async read(): Promise<void> {
    try {
      const all = await withTimeout(this.client.getAll().prefix(ETCD_PREFIX).strings(), this.timeoutMs, 'etcd read of the membership');
      if (this.closed) return;
      this.nodes.clear();
      this.left.clear();
      for (const [key, value] of Object.entries(all)) this.put(key, value);
      if (!this.synced) this.log.info({ nodes: this.nodes.size }, 'membership read from etcd; watching it');
      this.synced = true;
    } catch (err) {
      if (this.closed) return;
      this.log.warn({ err: (err as Error).message }, 'etcd membership read failed; retrying');
      this.retryTimer = setTimeout(() => void this.read(), RETRY_MS);
    }
  }

  private put(key: string, value: string): void {
    if (key.startsWith(LEFT_PREFIX)) {
      this.left.set(key, value);
      return;
    }
    if (!key.startsWith(NODES_PREFIX)) return;
    const record = this.parse(key, value);
    if (record) this.nodes.set(key, record);
    else this.nodes.delete(key);
  }

  private remove(key: string): void {
    this.nodes.delete(key);
    this.left.delete(key);
    this.reported.delete(key);
  }

  private parse(key: string, value: string): NodeRecord | null {
    let problem: string;
    try {
      const read = readStoredNodeRecord(JSON.parse(value));
      if (read.ok && nodeKey(read.record.role, read.record.id) === key) return read.record;
      problem = read.ok ? `key does not match the record's role and id (${read.record.role}/${read.record.id})` : read.problem;
    } catch (err) {
      problem = `not JSON: ${(err as Error).message}`;
    }
    if (!this.reported.has(key)) {
      this.reported.add(key);
      this.log.warn({ key, problem }, 'invalid node record in etcd ignored');
    }
    return null;
  }
}
