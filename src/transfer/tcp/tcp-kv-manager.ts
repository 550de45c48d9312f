/**
 * The tcp transfer backend: pure Node sockets, always available, the fallback. The decode node's
 * receiver listens on an OS-chosen port and takes writes straight into its pool; a prefill node's
 * sender holds one connection per decode node. See wire.ts for the frames.
 */
import type { KvEndpoint, KvManager, KvReceiver, KvSender, PoolRegion } from '../kv-transfer.js';
import { TcpKvReceiver } from './tcp-receiver.js';
import { TcpKvSender } from './tcp-sender.js';

export interface TcpKvOptions {
  /** Bound on connect (TCP handshake + HELLO/WELCOME). */
  connectTimeoutMs: number;
  /** Told why the receiver refused a sender (bad frame, bad run, page-size mismatch). */
  onRefuse: (reason: string) => void;
}

export const DEFAULT_TCP_KV_OPTIONS: TcpKvOptions = { connectTimeoutMs: 10_000, onRefuse: () => {} };

export class TcpKvManager implements KvManager {
  readonly backend = 'tcp';

  constructor(private readonly options: TcpKvOptions = DEFAULT_TCP_KV_OPTIONS) {}

  listen(pool: PoolRegion, host: string): Promise<KvReceiver> {
    return TcpKvReceiver.listen(pool, host, this.options.onRefuse);
  }

  async connect(peer: KvEndpoint, pool: PoolRegion): Promise<KvSender> {
    if (peer.backend !== 'tcp') throw new Error(`the tcp backend cannot connect to a ${peer.backend} endpoint`);
    return TcpKvSender.connect(peer.host, peer.port, pool, this.options.connectTimeoutMs);
  }
}
