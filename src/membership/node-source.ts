/**
 * Where the router learns about nodes beyond its static flags. The router depends only on this
 * interface (the registry adapter is one implementation; tests pass their own). `list()` gives the
 * live nodes and the URLs of nodes that left explicitly (deregistered: a clean shutdown). A node
 * missing from `nodes` without being deregistered is not known to be gone: the source may just have
 * lost sight of it (a registry cut off from it expires it), so the router keeps it while it answers.
 */
import type { NodeRecord } from '../registry/protocol.js';

export interface NodeListing {
  nodes: NodeRecord[];
  /** httpUrls of nodes that deregistered lately. */
  deregistered: readonly string[];
}

export interface NodeSource {
  list(): Promise<NodeListing>;
}
