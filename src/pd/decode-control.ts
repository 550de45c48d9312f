/**
 * Decode node's side of the control plane: one ZeroMQ DEALER per prefill node (keyed by its
 * bootstrap host:port, created on first use and kept), carrying page lists and failure notices to
 * it and its notices back to the scheduler actor. Pings every peer every third of `peerTimeoutMs`,
 * idle ones too: the prefill node declares a decode node lost when it hears nothing from it for
 * `peerTimeoutMs` (prefill-control.ts), so without pings an idle, healthy decode node was declared
 * lost (a warning and its KV links closed) after every burst. A prefill node that answers nothing
 * for `peerTimeoutMs` while rooms wait on it is declared lost: those rooms fail at once, instead of
 * waiting for a transfer timeout (their pages are freed once the KV receiver has cut the peer's
 * writer: decode-rooms.ts). An idle one that stops answering has its socket closed quietly (debug):
 * nothing waits on it, and the next room for it connects afresh.
 *
 * Socket decisions: each DEALER is a CURVE client of the cluster's keys, so only a prefill node
 * holding the cluster secret can complete the handshake (a fake one never sees a page list), and
 * the prefill node admits this one for the same reason; frames over MAX_PREFILL_TO_DECODE_BYTES
 * disconnect inside ZeroMQ; `probeRouter` announces each (re)connection to the prefill node, which
 * logs reconnections. A page list too large for the prefill node's frame bound fails its room here
 * (sent, it would cost the whole link its connection).
 */
import { Dealer } from 'zeromq';
import { peerOf, type PdBootstrap, type PdInbound } from '../../actors/scheduler/protocol.js';
import type { Logger } from '../log/logger.js';
import type { KvLayoutInfo, ModelIdentity } from '../registry/protocol.js';
import { curveClientOptions, type CurveKeys } from '../security/curve-keys.js';
import type { KvEndpoint } from '../transfer/kv-transfer.js';
import { MAX_DECODE_TO_PREFILL_BYTES, MAX_PREFILL_TO_DECODE_BYTES } from './control-limits.js';
import { parsePrefillToDecode, type DecodeToPrefill } from './control-protocol.js';
import { SocketSender } from './socket-sender.js';

/**
 * A TCP connect whose SYN a partition dropped is retried by the kernel only after 1, 3, 7, 15 ... s,
 * so a healed link could stay unused for seconds; abandoning the attempt after this (ZeroMQ then
 * reconnects after its 100 ms interval) sends a fresh SYN at least every 0.6 s. Far above a
 * connect's round trip between hosts of one cluster.
 */
const CONNECT_TIMEOUT_MS = 500;

export interface DecodeControlOptions {
  nodeId: string;
  model: ModelIdentity;
  kvLayout: KvLayoutInfo;
  endpoint: KvEndpoint;
  peerTimeoutMs: number;
  /** The cluster's CURVE keys: only prefill nodes holding the secret are talked to. */
  curve: CurveKeys;
  log: Logger;
  toScheduler: (msg: PdInbound) => void;
  /** Observes every completed transfer (metrics). */
  onTransfer?: (t: { bytes: number; runs: number; transferMs: number; writeMs: number; exposedMs: number }) => void;
}

interface PrefillPeer {
  socket: Dealer;
  sender: SocketSender;
  lastSeen: number;
  /** Rooms waiting on this peer: a silent peer fails them (an idle silent one is just closed). */
  rooms: Set<string>;
}

export class DecodeControl {
  private readonly peers = new Map<string, PrefillPeer>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: DecodeControlOptions) {
    this.timer = setInterval(() => this.tick(), Math.max(50, opts.peerTimeoutMs / 3)).unref();
  }

  /** Sends a room's page list (granted to `writer`) to its prefill node. */
  requestKv(room: string, bootstrap: PdBootstrap, pageIds: number[], writer: string): void {
    const peer = this.peer(bootstrap);
    peer.rooms.add(room);
    this.post(peer, { v: 1, type: 'kv_request', room, pageIds, endpoint: this.opts.endpoint, model: this.opts.model, kvLayout: this.opts.kvLayout, writer });
  }

  /** Tells a room's prefill node that the room failed here (even before its page list went out). */
  roomFailed(room: string, bootstrap: PdBootstrap, message: string): void {
    this.post(this.peer(bootstrap), { v: 1, type: 'room_failed', room, message });
  }

  close(): void {
    clearInterval(this.timer);
    for (const key of [...this.peers.keys()]) this.drop(key);
  }

  private peer(bootstrap: PdBootstrap): PrefillPeer {
    const key = peerOf(bootstrap);
    let peer = this.peers.get(key);
    if (peer) return peer;
    const socket = new Dealer({
      routingId: this.opts.nodeId, sendTimeout: 1000, sendHighWaterMark: 10000, receiveHighWaterMark: 10000, linger: 0,
      probeRouter: true, connectTimeout: CONNECT_TIMEOUT_MS, maxMessageSize: MAX_PREFILL_TO_DECODE_BYTES, ...curveClientOptions(this.opts.curve),
    });
    socket.connect(`tcp://${bootstrap.host}:${bootstrap.port}`);
    peer = { socket, sender: new SocketSender(socket, this.opts.log), lastSeen: Date.now(), rooms: new Set() };
    this.peers.set(key, peer);
    void this.receive(key, peer);
    return peer;
  }

  private post(peer: PrefillPeer, msg: DecodeToPrefill): void {
    const frame = JSON.stringify(msg);
    // A UTF-16 length is at most the UTF-8 byte length and at least a third of it: count bytes only near the bound.
    if (frame.length * 3 > MAX_DECODE_TO_PREFILL_BYTES && Buffer.byteLength(frame) > MAX_DECODE_TO_PREFILL_BYTES) {
      const message = `control message of ${Buffer.byteLength(frame)} bytes exceeds the ${MAX_DECODE_TO_PREFILL_BYTES}-byte frame bound of the PD control plane`;
      this.opts.log.error({ type: msg.type, room: 'room' in msg ? msg.room : undefined }, message);
      if (msg.type !== 'kv_request') return;
      peer.rooms.delete(msg.room);
      return this.opts.toScheduler({ type: 'room_failed', room: msg.room, message });
    }
    peer.sender.send([frame]);
  }

  private async receive(key: string, peer: PrefillPeer): Promise<void> {
    try {
      for await (const [frame] of peer.socket) {
        peer.lastSeen = Date.now();
        const parsed = parsePrefillToDecode(frame);
        if ('error' in parsed) {
          this.opts.log.warn({ peer: key, error: parsed.error }, 'bad control message dropped');
          continue;
        }
        const msg = parsed.msg;
        if (msg.type === 'pong') continue;
        peer.rooms.delete(msg.room);
        if (msg.type === 'kv_done') {
          this.opts.onTransfer?.(msg);
          this.opts.toScheduler({ type: 'kv_arrived', room: msg.room, first: msg.first });
        } else {
          this.opts.toScheduler({ type: 'room_failed', room: msg.room, message: msg.message, retryAfterSecs: msg.retryAfterSecs });
        }
      }
    } catch (err) {
      if (this.peers.get(key) === peer) this.opts.log.error({ err, peer: key }, 'decode control socket failed');
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const [key, peer] of this.peers) {
      if (now - peer.lastSeen > this.opts.peerTimeoutMs && peer.rooms.size === 0) {
        this.opts.log.debug({ peer: key }, 'idle prefill node stopped answering; its socket is closed until a room needs it');
        this.drop(key);
        continue;
      }
      if (now - peer.lastSeen > this.opts.peerTimeoutMs) {
        const message = `prefill node ${key} stopped answering for ${this.opts.peerTimeoutMs / 1000} s`;
        this.opts.log.warn({ peer: key, rooms: peer.rooms.size }, message);
        this.drop(key);
        this.opts.toScheduler({ type: 'peer_lost', peerId: key, message });
        continue;
      }
      this.post(peer, { v: 1, type: 'ping' });
    }
  }

  private drop(key: string): void {
    const peer = this.peers.get(key);
    if (!peer) return;
    this.peers.delete(key);
    peer.sender.close();
    peer.socket.close();
  }
}
