/**
 * The router's membership: static nodes from flags plus whatever a `NodeSource` lists, refreshed every
 * poll interval. Decisions:
 * - Polls never overlap: the next one is scheduled when the previous ended, each bounded by a timeout.
 * - A failed or timed-out poll keeps the last membership (a registry outage must not empty the
 *   router); the failure is logged once per distinct message, and recovery once.
 * - A node that stays listed keeps its `UpstreamNode` (load count, health); one that disappears is
 *   dropped (its in-flight requests finish on their own) and stops being probed.
 * - A registry record for a URL that a flag already names is the same node: the flag's settings win,
 *   and a disagreement (role, bootstrap port) is logged when the record first appears.
 * - Order is stable (static in flag order, then registry nodes in order of arrival), so policies such
 *   as round-robin are predictable.
 */
import type { Logger } from '../log/logger.js';
import { withTimeout } from '../node/timeout.js';
import type { NodeRecord, RegisteredRole } from '../registry/protocol.js';
import type { NodeSource } from './node-source.js';
import { DEFAULT_BOOTSTRAP_PORT, type DecodeSpec, type PrefillSpec } from './options.js';
import { normalizeNodeUrl, UpstreamNode } from './upstream-node.js';

export interface NodePoolOptions {
  prefill: readonly PrefillSpec[];
  decode: readonly DecodeSpec[];
  source?: NodeSource;
  pollMs: number;
  pollTimeoutMs: number;
  /** Called for each node that leaves. */
  onRemoved(node: UpstreamNode): void;
  log: Logger;
}

export class NodePool {
  private readonly fixed: UpstreamNode[] = [];
  /** Registry nodes by URL, in order of arrival. */
  private dynamic = new Map<string, UpstreamNode>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastProblem: string | null = null;
  /** The records of the last poll (id and URL), to log a record's problems once. */
  private listed = new Set<string>();

  constructor(private readonly opts: NodePoolOptions) {
    const add = (role: RegisteredRole, url: string, port: number | null): void => {
      const normalized = normalizeNodeUrl(url);
      if (!this.fixed.some((n) => n.url === normalized)) this.fixed.push(new UpstreamNode(role, normalized, port, 'static'));
    };
    for (const p of opts.prefill) add('prefill', p.url, p.bootstrapPort);
    for (const d of opts.decode) add('decode', d.url, null);
  }

  /** Every known node (of one role), in policy order. */
  nodes(role?: RegisteredRole): UpstreamNode[] {
    const all = [...this.fixed, ...this.dynamic.values()];
    return role === undefined ? all : all.filter((n) => n.role === role);
  }

  /** The nodes of a role a policy may pick: up and not excluded. */
  candidates(role: RegisteredRole, exclude: ReadonlySet<UpstreamNode>): UpstreamNode[] {
    return this.nodes(role).filter((n) => n.up && !exclude.has(n));
  }

  /** Polls the source once now (so the first requests see its nodes), then every poll interval. */
  async start(): Promise<void> {
    if (this.opts.source === undefined) return;
    await this.poll();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private async poll(): Promise<void> {
    const source = this.opts.source;
    if (source === undefined || this.closed) return;
    try {
      const records = await withTimeout(source.list(), this.opts.pollTimeoutMs, 'node source poll');
      if (this.closed) return;
      this.apply(records);
      if (this.lastProblem !== null) this.opts.log.info('node source answers again');
      this.lastProblem = null;
    } catch (err) {
      const problem = (err as Error).message;
      if (problem !== this.lastProblem) this.opts.log.warn({ problem }, 'node source poll failed; keeping the last membership');
      this.lastProblem = problem;
    }
    if (!this.closed) this.timer = setTimeout(() => void this.poll(), this.opts.pollMs).unref();
  }

  private apply(records: readonly NodeRecord[]): void {
    const log = this.opts.log;
    const next = new Map<string, UpstreamNode>();
    const listed = new Set<string>();
    for (const record of records) {
      const key = `${record.id} ${record.httpUrl}`;
      listed.add(key);
      // Warnings about a record are logged when it first appears, not on every poll.
      const fresh = !this.listed.has(key);
      let url: string;
      try {
        url = normalizeNodeUrl(record.httpUrl);
      } catch {
        if (fresh) log.warn({ id: record.id, httpUrl: record.httpUrl }, 'node source listed a node whose URL is not valid; ignored');
        continue;
      }
      const port = record.role === 'prefill' ? (record.bootstrapPort ?? DEFAULT_BOOTSTRAP_PORT) : null;
      const fixed = this.fixed.find((n) => n.url === url);
      if (fixed !== undefined) {
        if (fresh && (fixed.role !== record.role || fixed.bootstrapPort !== port)) {
          log.warn({ node: url, flag: { role: fixed.role, bootstrapPort: fixed.bootstrapPort }, registry: { role: record.role, bootstrapPort: port } }, 'the registry describes a node given by flag differently; the flag wins');
        }
        continue;
      }
      if (next.has(url)) continue;
      const known = this.dynamic.get(url);
      if (known !== undefined && known.role === record.role) {
        known.bootstrapPort = port;
        next.set(url, known);
        continue;
      }
      const node = new UpstreamNode(record.role, url, port, 'registry');
      log.info({ node: url, role: node.role, id: record.id, bootstrapPort: port }, 'node joined');
      next.set(url, node);
    }
    for (const [url, node] of this.dynamic) {
      if (next.get(url) === node) continue;
      log.info({ node: url, role: node.role }, 'node left');
      this.opts.onRemoved(node);
    }
    this.dynamic = next;
    this.listed = listed;
  }
}
