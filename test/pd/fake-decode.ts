/**
 * A decode node's control plane played by a test: a ZeroMQ DEALER on a real prefill node's bootstrap
 * port that sends page lists with any KV endpoint (one that cannot be reached, or a receiver the test
 * runs) and collects the prefill node's notices per room. It passes the PD handshake by announcing
 * the identity and KV layout the prefill node computes for the same model directory.
 *
 * Decisions: no pings, so the prefill node under test needs a long `--disaggregation-peer-timeout`;
 * every wait for a notice is bounded. By default it holds the cluster secret the nodes load by
 * default (a CURVE client of the cluster's keys), as a real decode node does; `socketOptions`
 * replace that (a hostile peer's keys, none) or add to it.
 */
import { randomBytes } from 'node:crypto';
import { Dealer, type SocketOptions } from 'zeromq';
import { gqaLayout, type KvLayout } from '../../src/kv/layout.js';
import { loadLlamaConfig } from '../../src/model/config.js';
import { modelFingerprint } from '../../src/model/fingerprint.js';
import { CONTROL_PROTOCOL_VERSION, type DecodeToPrefill, type PrefillToDecode } from '../../src/pd/control-protocol.js';
import { loadClusterSecret } from '../../src/security/cluster-secret.js';
import { curveClientOptions, curveKeys } from '../../src/security/curve-keys.js';
import type { KvEndpoint } from '../../src/transfer/kv-transfer.js';

type Notice = Extract<PrefillToDecode, { room: string }>;

export class FakeDecode {
  /** The writer token its page lists carry (a test receiver grants rooms to it). */
  readonly writer = randomBytes(16).toString('hex');
  /** The prefill node's pool layout (page size 16, the default), for the test's receiver pool. */
  readonly layout: KvLayout;
  private readonly socket: Dealer;
  private readonly notices = new Map<string, Notice>();
  private readonly waiters = new Map<string, (n: Notice) => void>();

  constructor(readonly peerId: string, bootstrapPort: number, private readonly modelDir: string, socketOptions: SocketOptions<Dealer> = FakeDecode.clusterOptions()) {
    const c = loadLlamaConfig(modelDir);
    this.layout = gqaLayout(c.numLayers, c.numKvHeads, c.headDim, 'float32', 16);
    this.socket = new Dealer({ routingId: peerId, linger: 0, ...socketOptions });
    this.socket.connect(`tcp://127.0.0.1:${bootstrapPort}`);
    void this.receive();
  }

  /** A client of the cluster the nodes under test belong to (the default cluster secret). */
  static clusterOptions(): SocketOptions<Dealer> {
    return curveClientOptions(curveKeys(loadClusterSecret(null).key));
  }

  /** Tells the prefill node that `room` failed here. */
  async roomFailed(room: string, message: string): Promise<void> {
    await this.socket.send(JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, type: 'room_failed', room, message } satisfies DecodeToPrefill));
  }

  /** Reserves `pageIds` of `endpoint`'s pool for `room` (granted to `writer` there by the test). */
  async requestKv(room: string, endpoint: KvEndpoint, pageIds: number[]): Promise<void> {
    const model = { fingerprint: modelFingerprint(this.modelDir, this.modelDir), servedModelName: 'fake-decode' };
    await this.socket.send(JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, type: 'kv_request', room, pageIds, endpoint, model, kvLayout: this.layout, writer: this.writer } satisfies DecodeToPrefill));
  }

  /** The prefill node's notice for `room` (kv_done or room_failed). */
  notice(room: string, ms = 10_000): Promise<Notice> {
    const known = this.notices.get(room);
    if (known) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no notice for room ${room} within ${ms} ms`)), ms);
      this.waiters.set(room, (n) => {
        clearTimeout(timer);
        resolve(n);
      });
    });
  }

  close(): void {
    this.socket.close();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [frame] of this.socket) {
        const msg = JSON.parse(frame.toString('utf8')) as PrefillToDecode;
        if (msg.type === 'pong') continue;
        this.notices.set(msg.room, msg);
        this.waiters.get(msg.room)?.(msg);
        this.waiters.delete(msg.room);
      }
    } catch {
      // closed
    }
  }
}
