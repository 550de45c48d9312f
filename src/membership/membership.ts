/**
 * The one membership interface pd-node uses, whatever stores the membership: the ZeroMQ registry
 * (the embedded default, src/registry/) or etcd (etcd-*.ts here, for clusters that outgrow one
 * registry process). The scheme of `--registry-url` picks the store: tcp:// is the ZeroMQ registry,
 * etcd://HOST:PORT[,HOST:PORT...] is an etcd cluster.
 *
 * Decisions:
 * - Two small sides. A node holds a `NodeRegistration`: register (validated by the registry's own
 *   checkNodeRecord, then kept alive in the background until deregister/close; a failed first
 *   attempt rejects but keeps retrying, as nodes may start before the store), deregister (best
 *   effort, bounded) and close. A router reads a `MembershipView`: the router's existing
 *   `NodeSource` (list: live records plus the URLs of nodes that left cleanly) and close. How the
 *   view stays current (the ZeroMQ registry is asked per poll, etcd is watched) is the store's
 *   business; the router's health checks decide either way (node-source.ts).
 * - The ZeroMQ `RegistryClient` already has this shape: it is adapted here, not wrapped or copied.
 */
import type { Logger } from '../log/logger.js';
import { RegistryClient } from '../registry/registry-client.js';
import type { NodeRecord } from '../registry/protocol.js';
import type { CurveKeys } from '../security/curve-keys.js';
import type { NodeSource } from './node-source.js';
import { remoteRegistrySource } from './registry-node-source.js';
import type { EtcdAccess } from './etcd-access.js';
import { EtcdNodeRegistration } from './etcd-node-registration.js';
import { EtcdNodeView } from './etcd-node-view.js';
import { isEtcdUrl } from './etcd-url.js';

export interface NodeRegistration {
  register(record: NodeRecord): Promise<void>;
  /** Tells the store the node left on purpose (routers drop it at once); resolves at once if not registered. */
  deregister(): Promise<void>;
  close(): void;
}

export interface MembershipView extends NodeSource {
  close(): Promise<void>;
}

export interface MembershipOptions {
  /** The cluster's CURVE keys (the ZeroMQ registry's authentication; etcd has its own, see docs). */
  curve: CurveKeys;
  log: Logger;
  /** Bound on one call to the store. */
  requestTimeoutMs?: number;
  /** etcd only: credentials (etcd-access.ts); absent: plain http, no user. */
  etcd?: Readonly<EtcdAccess>;
}

export function connectNodeRegistration(url: string, options: MembershipOptions): NodeRegistration {
  return isEtcdUrl(url) ? EtcdNodeRegistration.connect(url, options) : RegistryClient.connect(url, options);
}

export function openMembershipView(url: string, options: MembershipOptions): MembershipView {
  if (isEtcdUrl(url)) return EtcdNodeView.open(url, options);
  const client = RegistryClient.connect(url, options);
  return { ...remoteRegistrySource(client), close: async () => client.close() };
}
