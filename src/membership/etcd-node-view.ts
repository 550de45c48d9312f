/**
 * A router's view of the membership in etcd: a watch on /pd-node/ plus an initial read, kept in
 * memory, handed to the router's node pool as its `NodeSource` (the pool polls `list()`; answering
 * from memory costs nothing).
 *
 * Decisions:
 * - Watch, and read the prefix every RESYNC_MS. The watch makes changes visible at once; the reads
 *   bound how stale the view gets when the watch stalls without breaking: a watch stream on a member
 *   cut off by a partition was seen to stay silent for over 20 s (gRPC's keep-alive did not end it),
 *   and each read, bounded by a gRPC deadline, fails over to a member that answers. One range read of
 *   a few KB per router every 2 s costs etcd nothing.
 * - Revisions order the two: the view keeps the highest revision it applied; a read older than that
 *   is dropped (a late answer), a read at or past it replaces the view, and a watch event older than
 *   it is dropped (the read already holds it). So the view only moves forward.
 * - Until the first read succeeded `list()` rejects (the pool logs "node source poll failed" once
 *   and keeps its static nodes). Failed reads are logged once per outage, and once on recovery.
 * - Records are read with the ZeroMQ registry's own checks (readStoredNodeRecord: known fields only), and the key must match the record
 *   (role and id): anything else is skipped and logged once per key, never handed to the router.
 * - Expiry is a hint, as with the ZeroMQ registry: a record whose lease ran out is simply no longer
 *   listed and the router's health checks decide; a record removed by a deregister comes with a
 *   /pd-node/left/<id> marker, listed as `deregistered` so the router drops the node at once.
 */
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../log/logger.js';
import { withTimeout } from '../util/timeout.js';
import { readStoredNodeRecord } from '../registry/messages.js';
import type { NodeRecord } from '../registry/protocol.js';
import type { NodeListing } from './node-source.js';
import { etcdClient } from './etcd-client.js';
import { ETCD_PREFIX, LEFT_PREFIX, nodeKey, NODES_PREFIX } from './etcd-url.js';
import type { MembershipOptions, MembershipView } from './membership.js';

/** Period of the full reads (see the header): a few router polls (500 ms by default). */
const RESYNC_MS = 2000;
const DEFAULT_REQUEST_TIMEOUT_MS = 2000;

export class EtcdNodeView implements MembershipView {
  private readonly nodes = new Map<string, NodeRecord>();
  /** left/<id> key -> httpUrl. */
  private readonly left = new Map<string, string>();
  /** Keys already logged as invalid (a bad record is logged once, not on every watch event). */
  private readonly reported = new Set<string>();
  private synced = false;
  private closed = false;
  private readFailing = false;
  /** Highest etcd revision applied (a read's header revision, or an event's mod_revision). */
  private revision = 0;
  private readTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly client: Etcd3,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {
    const watcher = client.watch().prefix(ETCD_PREFIX).watcher();
    watcher.on('put', (kv) => {
      if (this.fresh(kv.mod_revision)) this.put(kv.key.toString(), kv.value.toString());
    });
    watcher.on('delete', (kv) => {
      if (this.fresh(kv.mod_revision)) this.remove(kv.key.toString());
    });
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
    if (this.readTimer) clearTimeout(this.readTimer);
    this.client.close();
  }

  /** An event at or past the applied revision (an equal one is in the read already: applying it again is harmless). */
  private fresh(modRevision: string): boolean {
    const revision = Number(modRevision);
    if (revision < this.revision) return false;
    this.revision = revision;
    return true;
  }

  private async read(): Promise<void> {
    try {
      const res = await withTimeout(this.client.getAll().prefix(ETCD_PREFIX).exec(), this.timeoutMs, 'etcd read of the membership');
      if (this.closed) return;
      const revision = Number(res.header.revision);
      if (revision >= this.revision) {
        this.revision = revision;
        this.nodes.clear();
        this.left.clear();
        for (const kv of res.kvs) this.put(kv.key.toString(), kv.value.toString());
      }
      if (!this.synced) this.log.info({ nodes: this.nodes.size }, 'membership read from etcd; watching it');
      else if (this.readFailing) this.log.info('etcd membership read again');
      this.synced = true;
      this.readFailing = false;
    } catch (err) {
      if (this.closed) return;
      if (!this.readFailing) this.log.warn({ err: (err as Error).message }, 'etcd membership read failed; keeping the last view, retrying');
      this.readFailing = true;
    }
    if (!this.closed) this.readTimer = setTimeout(() => void this.read(), RESYNC_MS);
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
