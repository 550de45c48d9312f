/**
 * A node's membership in etcd: its record under /pd-node/nodes/<role>/<id>, attached to a lease the
 * node keeps alive. A node that dies stops the keep-alives and etcd deletes the record when the lease
 * runs out, with no registry process in between.
 *
 * Decisions:
 * - Lease TTL LEASE_TTL_SECS = 3 s, the ZeroMQ registry's heartbeat timeout: a dead node leaves
 *   within the same bound whichever store is used. The etcd3 client sends keep-alives every TTL/3.
 * - The record is validated with the ZeroMQ registry's own checkNodeRecord before anything is sent:
 *   one schema, one set of rules, whichever store.
 * - A lost lease (etcd unreachable longer than the TTL, or the lease revoked) is logged once and the
 *   record is put again under a fresh lease every RETRY_MS until it succeeds; a failed first attempt
 *   rejects `register` but the retries go on, as with the ZeroMQ client (nodes may start first).
 *   Repeated failures are logged once per outage, and once on recovery.
 * - Deregister first writes /pd-node/left/<id> = httpUrl under its own lease of the ZeroMQ
 *   registry's retention (60 s), then revokes the node's lease (deleting the record): routers tell a
 *   clean stop (drop at once) from an expiry (a hint only) as with the ZeroMQ registry.
 * - Every call is bounded by `requestTimeoutMs` (withTimeout); the etcd3 client has no bound of its own.
 */
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from '../log/logger.js';
import { withTimeout } from '../util/timeout.js';
import { checkNodeRecord } from '../registry/messages.js';
import type { NodeRecord } from '../registry/protocol.js';
import { etcdClient } from './etcd-client.js';
import { LEFT_TTL_SECS, leftKey, nodeKey } from './etcd-url.js';
import type { MembershipOptions, NodeRegistration } from './membership.js';

/** The ZeroMQ registry's heartbeat timeout, in etcd's whole seconds. */
export const LEASE_TTL_SECS = 3;
/** Pause between attempts to put the record back after a lost lease: a third of the TTL, like a keep-alive. */
const RETRY_MS = 1000;
const DEFAULT_REQUEST_TIMEOUT_MS = 2000;

export class EtcdNodeRegistration implements NodeRegistration {
  private record: NodeRecord | null = null;
  private lease: Lease | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private problem = false;
  private closed = false;

  private constructor(
    private readonly client: Etcd3,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  static connect(url: string, options: MembershipOptions): EtcdNodeRegistration {
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const client = etcdClient(url, timeoutMs, options.etcd);
    return new EtcdNodeRegistration(client, timeoutMs, options.log.child({ registry: url }));
  }

  async register(record: NodeRecord): Promise<void> {
    if (this.closed) throw new Error('etcd membership is closed');
    if (this.record) throw new Error(`etcd membership already registered node ${this.record.id}; deregister first`);
    const problem = checkNodeRecord(record);
    if (problem !== null) throw new Error(`invalid node record: ${problem}`);
    this.record = record;
    await this.attach(record);
  }

  async deregister(): Promise<void> {
    const record = this.record;
    const lease = this.lease;
    this.stop();
    if (!record) return;
    const left = this.client.lease(LEFT_TTL_SECS, { autoKeepAlive: false });
    await withTimeout(left.put(leftKey(record.id)).value(record.httpUrl).exec(), this.timeoutMs, 'etcd put of the left marker');
    if (lease) await withTimeout(lease.revoke(), this.timeoutMs, 'etcd lease revoke');
    this.log.info({ id: record.id }, 'deregistered from etcd');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    this.client.close();
  }

  private stop(): void {
    this.record = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    // Stops the keep-alives only; deregister revokes, close lets the lease run out.
    this.lease?.release();
    this.lease = null;
  }

  /** Puts the record under a fresh lease; on failure logs (once) and schedules another attempt. */
  private async attach(record: NodeRecord): Promise<void> {
    const lease = this.client.lease(LEASE_TTL_SECS, { autoKeepAlive: true });
    this.lease = lease;
    lease.on('lost', (err) => {
      if (this.lease !== lease) return;
      this.lease = null;
      this.noteProblem(record, `lease lost: ${err.message}`);
      this.retryLater(record);
    });
    try {
      await withTimeout(lease.put(nodeKey(record.role, record.id)).value(JSON.stringify(record)).exec(), this.timeoutMs, 'etcd put of the node record');
    } catch (err) {
      if (this.lease === lease) {
        lease.release();
        this.lease = null;
        this.noteProblem(record, (err as Error).message);
        this.retryLater(record);
      }
      throw err;
    }
    if (this.record !== record) return;
    this.log.info({ id: record.id, role: record.role, leaseTtlSecs: LEASE_TTL_SECS }, this.problem ? 'etcd reachable again; node record put back' : 'registered in etcd');
    this.problem = false;
  }

  private retryLater(record: NodeRecord): void {
    if (this.record !== record || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.record === record) this.attach(record).catch(() => undefined);
    }, RETRY_MS);
    // The node's own servers keep the process alive; the retries alone should not.
    this.retryTimer.unref();
  }

  private noteProblem(record: NodeRecord, message: string): void {
    if (this.problem) return;
    this.problem = true;
    this.log.warn({ id: record.id, err: message }, 'etcd unreachable or refusing this node; will keep trying');
  }
}
