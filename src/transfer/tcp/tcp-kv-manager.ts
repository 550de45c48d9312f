/**
 * The tcp transfer backend: pure Node sockets, always available, the fallback. The decode node's
 * receiver listens on an OS-chosen port and takes writes straight into its pool; a prefill node's
 * sender holds one connection per decode node. See wire.ts for the frames.
 */
import type { KvEndpoint, KvManager, KvReceiver, KvSender, PoolRegion } from '../kv-transfer.js';
import type { ManagerEnv } from '../transfer-backend.js';
import type { TcpEndpoint } from './endpoint.js';
import { DEFAULT_TCP_RECEIVER_LIMITS, TcpKvReceiver, type TcpReceiverLimits } from './tcp-receiver.js';
import { TcpKvSender } from './tcp-sender.js';

/** What every manager gets (the connect bound covers TCP + CHALLENGE/HELLO/WELCOME), and the tcp backend's own settings. */
export interface TcpKvOptions extends ManagerEnv {
  /** The receiver's handshake timeout and connection caps (tests lower them). */
  receiverLimits?: TcpReceiverLimits;
  /** SO_SNDBUF asked for on each sender's data socket (send-buffer.ts); 0: the kernel's autotuning. */
  sendBufferBytes: number;
}

export class TcpKvManager implements KvManager {
  readonly backend = 'tcp';
  private toldSendBuffer = false;

  constructor(private readonly options: TcpKvOptions) {}

  listen(pool: PoolRegion, host: string): Promise<KvReceiver> {
    return TcpKvReceiver.listen(pool, host, this.options.linkKey, this.options.receiverLimits ?? DEFAULT_TCP_RECEIVER_LIMITS, this.options.onRefuse);
  }

  async connect(peer: KvEndpoint, pool: PoolRegion, writer: string): Promise<KvSender> {
    if (peer.backend !== 'tcp') throw new Error(`the tcp backend cannot connect to a ${peer.backend} endpoint`);
    const { host, port } = peer as TcpEndpoint;
    const sender = await TcpKvSender.connect(host, port, pool, this.options.connectTimeoutMs, this.options.linkKey, writer, this.options.sendBufferBytes);
    const buffer = sender.sendBuffer;
    if (buffer && 'problem' in buffer && !this.toldSendBuffer) {
      this.toldSendBuffer = true;
      this.options.warn(`tcp KV links keep the kernel's send buffer (--tcp-send-buffer ${this.options.sendBufferBytes} not applied): ${buffer.problem}`);
    }
    return sender;
  }
}
