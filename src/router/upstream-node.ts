/**
 * The router's view of one prefill or decode node: where it is, what the router has in flight to it
 * (the load the policies compare), and whether it is up. Decisions:
 * - A node is identified by its normalized HTTP URL, so one listed both by a flag and by the registry
 *   is one node (one load count), not two.
 * - `bootstrap_host` is the hostname of the node's HTTP URL, as SGLang's router derives it (IPv6
 *   brackets removed: the node joins it with the port itself).
 * - `up`/`downReason` are written only by `NodeHealth`.
 */
import type { RegisteredRole } from '../registry/protocol.js';
import { upstreamOrigin, type UpstreamOrigin } from './upstream-request.js';

export type NodeOrigin = 'static' | 'registry';

export class UpstreamNode {
  /** Requests the router has in flight to this node. */
  load = 0;
  up = true;
  downReason: string | null = null;
  /** Response heads received from the node (any status): proof of life for NodeHealth's connect timeouts. */
  answers = 0;
  readonly bootstrapHost: string;
  /** The URL parsed once, for every request to the node. */
  readonly target: UpstreamOrigin;

  constructor(
    readonly role: RegisteredRole,
    /** Normalized base URL (no trailing slash): also the node's identity. */
    readonly url: string,
    /** Prefill nodes only; null for decode nodes. */
    public bootstrapPort: number | null,
    readonly origin: NodeOrigin,
  ) {
    this.target = upstreamOrigin(url);
    this.bootstrapHost = this.target.hostname;
  }
}

/** `http://h:1/` -> `http://h:1`: one spelling per node. Throws on a string that is not a URL. */
export function normalizeNodeUrl(raw: string): string {
  return new URL(raw).href.replace(/\/+$/, '');
}

/** The normalized URL when `raw` is an http(s) URL, else null. */
export function httpUrl(raw: string): string | null {
  try {
    const url = normalizeNodeUrl(raw);
    return url.startsWith('http://') || url.startsWith('https://') ? url : null;
  } catch {
    return null;
  }
}
