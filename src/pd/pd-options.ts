/**
 * The PD plane's own configuration: the fields of `NodeOptions` it reads (control socket, peer
 * bound, membership). The composition root (src/node/start-node.ts) passes the node's options.
 */
import type { SchedulerOptions } from '../../actors/scheduler/scheduler-options.js';
import type { EtcdAccess } from '../membership/etcd-access.js';

export interface PdOptions extends Pick<SchedulerOptions, 'role' | 'host' | 'transfer'> {
  /** PD: membership to register with: the ZeroMQ registry (tcp://HOST:PORT) or etcd (etcd://HOST:PORT[,...]); null: none. */
  registryUrl: string | null;
  /** PD, etcd membership: credentials for etcd (src/membership/etcd-access.ts). */
  etcd: Readonly<EtcdAccess>;
  /** PD, prefill: port of the bootstrap (control) socket decode nodes connect to (SGLang's default 8998). */
  bootstrapPort: number;
  /** PD: seconds without an answer from a peer node before its rooms fail. */
  peerTimeoutSecs: number;
}
