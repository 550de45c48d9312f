/**
 * Where the router learns about nodes beyond its static flags. The router depends only on this
 * interface (the registry adapter is one implementation; tests pass their own). `list()` is the
 * complete current membership: a node missing from a result has left.
 */
import type { NodeRecord } from '../registry/protocol.js';

export interface NodeSource {
  list(): Promise<NodeRecord[]>;
}
