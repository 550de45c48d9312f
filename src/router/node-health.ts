/**
 * Up/down state of nodes. Decisions:
 * - A node goes down when a connection to it is refused or cannot be made (a dead or restarting
 *   process); policies skip it. A connect that timed out while the node answered other exchanges
 *   is a busy node (its accept queue was full in a burst), not a down one: router-context.ts
 *   leaves it up, or a burst would take the only prefill out and answer hundreds of requests 503. Other failures (a 5xx, a broken stream) do not take it down: the node
 *   is alive, and the failing request is retried elsewhere anyway.
 * - While down it is probed with GET /health every back-off interval; it is up again after a 200
 *   there or after any request to it gets an answer below 500. No traffic is spent finding out.
 * - Transitions are logged once each, not per failed request or probe.
 * - Probe timers are unref'd and cleared when the node leaves the membership or the router closes.
 */
import type { Logger } from '../log/logger.js';
import type { UpstreamNode } from './upstream-node.js';

/** Resolves with null when the node answered /health with 200, else with what went wrong. */
export type HealthProbe = (node: UpstreamNode) => Promise<string | null>;

export class NodeHealth {
  private readonly timers = new Map<UpstreamNode, NodeJS.Timeout>();
  private readonly gone = new WeakSet<UpstreamNode>();
  private closed = false;

  constructor(
    private readonly backoffMs: number,
    private readonly probe: HealthProbe,
    private readonly log: Logger,
  ) {}

  down(node: UpstreamNode, reason: string): void {
    if (this.closed || this.gone.has(node)) return;
    if (node.up) this.log.warn({ node: node.url, role: node.role, reason }, 'node down: skipped until it answers /health');
    node.up = false;
    node.downReason = reason;
    if (!this.timers.has(node)) this.timers.set(node, setTimeout(() => void this.check(node), this.backoffMs).unref());
  }

  up(node: UpstreamNode): void {
    this.stopProbing(node);
    if (node.up) return;
    node.up = true;
    node.downReason = null;
    this.log.info({ node: node.url, role: node.role }, 'node up again');
  }

  /** The node left the membership: no more probes. */
  forget(node: UpstreamNode): void {
    this.gone.add(node);
    this.stopProbing(node);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private stopProbing(node: UpstreamNode): void {
    clearTimeout(this.timers.get(node));
    this.timers.delete(node);
  }

  private async check(node: UpstreamNode): Promise<void> {
    this.timers.delete(node);
    const problem = await this.probe(node);
    // Closed, forgotten or already up (a request got through) while the probe ran: nothing to do.
    if (this.closed || node.up) return;
    if (problem === null) this.up(node);
    else this.down(node, problem);
  }
}
