/**
 * The router's membership: static nodes from flags plus whatever a `NodeSource` lists, refreshed every
 * poll interval. Decisions:
 * - Polls never overlap: the next one is scheduled when the previous ended, each bounded by a timeout.
 * - A failed or timed-out poll keeps the last membership (a registry outage must not empty the
 *   router); the outage is logged once when it starts (whatever its messages, which name timings
 *   and so differ from poll to poll) and once when it ends.
 * - The source adds nodes; it removes one only when the node deregistered (a clean shutdown). A
 *   node the source merely stopped listing (the registry expired it: maybe only the registry is cut
 *   off from it) stays routable, "unlisted", while the router finds it up: it is probed with
 *   GET /health every poll (probes never overlap) and dropped when a probe fails or a request finds
 *   it down (NodeHealth), or kept for good once listed again. The router's own view of reachability
 *   decides, so a registry outage or partition costs no request.
 * - A node that stays listed (or unlisted but up) keeps its `UpstreamNode` (load count, health);
 *   one that is dropped finishes its in-flight requests on its own and stops being probed.
 * - A registry record for a URL that a flag already names is the same node: the flag's settings win,
 *   and a disagreement (role, bootstrap port) is logged when the record first appears; a flag that
 *   left the bootstrap port to the node (`--prefill URL none`) takes the port the record gives.
 * - Order is stable (static in flag order, then registry nodes in order of arrival), so policies such
 *   as round-robin are predictable.
 */
import type { Logger } from '../log/logger.js';
import { withTimeout } from '../util/timeout.js';
import type { RegisteredRole } from '../registry/protocol.js';
import type { HealthProbe } from './node-health.js';
import type { NodeListing, NodeSource } from '../membership/node-source.js';
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
  /** GET /health of a node the source stopped listing: null while it is up. */
  probe: HealthProbe;
  log: Logger;
}

export class NodePool {
  private readonly fixed: UpstreamNode[] = [];
  /** Registry nodes by URL, in order of arrival. */
  private dynamic = new Map<string, UpstreamNode>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** The source is failing (an outage is logged once, when this turns true). */
  private failing = false;
  /** The records of the last poll (id and URL), to log a record's problems once. */
  private listed = new Set<string>();
  /** Registry nodes the source no longer lists (not deregistered): kept while they are up. */
  private readonly unlisted = new Set<UpstreamNode>();
  private readonly probing = new Set<UpstreamNode>();
  /** Static prefill nodes whose flag named a bootstrap port (the others take the registry's). */
  private readonly portGiven = new Set<UpstreamNode>();
  /**
   * Each role's nodes in policy order, made when the membership changes (not per request: a routed
   * request asks for both roles' candidates); null: to be made.
   */
  private byRole: Readonly<Record<RegisteredRole, readonly UpstreamNode[]>> | null = null;

  constructor(private readonly opts: NodePoolOptions) {
    const add = (role: RegisteredRole, url: string, port: number | null): void => {
      const normalized = normalizeNodeUrl(url);
      if (this.fixed.some((n) => n.url === normalized)) return;
      const node = new UpstreamNode(role, normalized, port, 'static');
      this.fixed.push(node);
      if (port !== null) this.portGiven.add(node);
    };
    for (const p of opts.prefill) add('prefill', p.url, p.bootstrapPort);
    for (const d of opts.decode) add('decode', d.url, null);
  }

  /** Every known node (of one role), in policy order. */
  nodes(role?: RegisteredRole): UpstreamNode[] {
    const all = [...this.fixed, ...this.dynamic.values()];
    return role === undefined ? all : all.filter((n) => n.role === role);
  }

  /**
   * The nodes of a role a policy may pick: up and not excluded. When all are (a request's first
   * attempt on a healthy cluster), the role's own list, allocating nothing.
   */
  candidates(role: RegisteredRole, exclude: ReadonlySet<UpstreamNode>): readonly UpstreamNode[] {
    this.byRole ??= { prefill: this.nodes('prefill'), decode: this.nodes('decode') };
    const all = this.byRole[role];
    for (const n of all) if (!n.up || exclude.has(n)) return all.filter((m) => m.up && !exclude.has(m));
    return all;
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
      const listing = await withTimeout(source.list(), this.opts.pollTimeoutMs, 'node source poll');
      if (this.closed) return;
      this.apply(listing);
      if (this.failing) this.opts.log.info('node source answers again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.opts.log.warn({ problem: (err as Error).message }, 'node source poll failed; keeping the last membership until it answers again');
      this.failing = true;
    }
    this.checkUnlisted();
    if (!this.closed) this.timer = setTimeout(() => void this.poll(), this.opts.pollMs).unref();
  }

  private apply(listing: NodeListing): void {
    const log = this.opts.log;
    const listed = new Set<string>();
    /** Valid records by normalized URL, first record of a URL wins; static nodes left out. */
    const records = new Map<string, { role: RegisteredRole; port: number | null; id: string }>();
    for (const record of listing.nodes) {
      const key = `${record.id} ${record.httpUrl}`;
      listed.add(key);
      // Warnings about a record are logged when it first appears, not on every poll.
      const fresh = !this.listed.has(key);
      const url = nodeUrlOrNull(record.httpUrl);
      if (url === null) {
        if (fresh) log.warn({ id: record.id, httpUrl: record.httpUrl }, 'node source listed a node whose URL is not valid; ignored');
        continue;
      }
      const port = record.role === 'prefill' ? (record.bootstrapPort ?? DEFAULT_BOOTSTRAP_PORT) : null;
      const fixed = this.fixed.find((n) => n.url === url);
      if (fixed !== undefined) {
        const ownPort = fixed.role === 'prefill' && record.role === 'prefill' && !this.portGiven.has(fixed);
        if (ownPort && fixed.bootstrapPort !== record.bootstrapPort && record.bootstrapPort !== null) {
          fixed.bootstrapPort = record.bootstrapPort;
          log.info({ node: url, bootstrapPort: record.bootstrapPort }, 'the registry gives the bootstrap port of a prefill node given without one');
        } else if (fresh && !ownPort && (fixed.role !== record.role || fixed.bootstrapPort !== port)) {
          log.warn({ node: url, flag: { role: fixed.role, bootstrapPort: fixed.bootstrapPort }, registry: { role: record.role, bootstrapPort: port } }, 'the registry describes a node given by flag differently; the flag wins');
        }
        continue;
      }
      if (!records.has(url)) records.set(url, { role: record.role, port, id: record.id });
    }
    const deregistered = new Set(listing.deregistered.map(nodeUrlOrNull));
    // Known nodes first, in their order, so that policies see a stable order.
    const next = new Map<string, UpstreamNode>();
    for (const [url, node] of this.dynamic) {
      const record = records.get(url);
      if (record !== undefined && record.role === node.role) {
        node.bootstrapPort = record.port;
        if (this.unlisted.delete(node)) log.info({ node: url, role: node.role }, 'the registry lists the node again');
        next.set(url, node);
        continue;
      }
      const why = record !== undefined ? 'registered again with another role' : deregistered.has(url) ? 'deregistered' : node.up ? null : `no longer listed by the registry, and down (${node.downReason})`;
      if (why !== null) {
        this.remove(node, why);
        continue;
      }
      if (!this.unlisted.has(node)) {
        this.unlisted.add(node);
        log.warn({ node: url, role: node.role }, 'the registry no longer lists the node (it missed heartbeats there); still routed while it answers /health here');
      }
      next.set(url, node);
    }
    for (const [url, record] of records) {
      if (next.has(url)) continue;
      const node = new UpstreamNode(record.role, url, record.port, 'registry');
      log.info({ node: url, role: node.role, id: record.id, bootstrapPort: record.port }, 'node joined');
      next.set(url, node);
    }
    this.dynamic = next;
    this.byRole = null;
    this.listed = listed;
  }

  /** Drops unlisted nodes the router found down; probes the others (one probe per node at a time). */
  private checkUnlisted(): void {
    for (const node of this.unlisted) {
      if (!node.up) {
        this.drop(node, `no longer listed by the registry, and down (${node.downReason})`);
        continue;
      }
      if (this.probing.has(node)) continue;
      this.probing.add(node);
      void this.opts.probe(node).then((problem) => {
        this.probing.delete(node);
        if (problem !== null && !this.closed && this.unlisted.has(node)) this.drop(node, `no longer listed by the registry, and /health failed: ${problem}`);
      });
    }
  }

  /** Takes a registry node out of the membership. */
  private drop(node: UpstreamNode, why: string): void {
    if (this.dynamic.get(node.url) === node) this.dynamic.delete(node.url);
    this.byRole = null;
    this.remove(node, why);
  }

  private remove(node: UpstreamNode, why: string): void {
    this.unlisted.delete(node);
    this.opts.log.info({ node: node.url, role: node.role, why }, 'node left');
    this.opts.onRemoved(node);
  }
}

function nodeUrlOrNull(raw: string): string | null {
  try {
    return normalizeNodeUrl(raw);
  } catch {
    return null;
  }
}
