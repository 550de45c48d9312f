/**
 * Decode node's side of the control plane: one ZeroMQ DEALER per prefill node (keyed by its
 * bootstrap host:port, created on first use and kept), carrying page lists and failure notices to
 * it and its notices back to the scheduler actor. Pings every third of `peerTimeoutMs`; a prefill
 * node that answers nothing for `peerTimeoutMs` while rooms wait on it is declared lost: those rooms
 * fail at once, instead of waiting for a transfer timeout (their pages are freed once the KV
 * receiver has cut the peer's writer: decode-rooms.ts).
 */
import { Dealer } from 'zeromq';
import type { PdBootstrap, PdInbound } from '../../actors/protocol/scheduler.js';
import { peerOf } from '../../actors/scheduler/decode-rooms.js';
import type { Logger } from '../log/logger.js';
import type { KvLayoutInfo, ModelIdentity } from '../registry/protocol.js';
import type { KvEndpoint } from '../transfer/kv-transfer.js';
import { parsePrefillToDecode, type DecodeToPrefill } from './control-protocol.js';
import { SocketSender } from './socket-sender.js';

export interface DecodeControlOptions {
  nodeId: string;
  model: ModelIdentity;
  kvLayout: KvLayoutInfo;
  endpoint: KvEndpoint;
  peerTimeoutMs: number;
  log: Logger;
  toScheduler: (msg: PdInbound) => void;
  /** Observes every completed transfer (metrics). */
  onTransfer?: (t: { bytes: number; runs: number; transferMs: number; writeMs: number; exposedMs: number }) => void;
}

interface PrefillPeer {
  socket: Dealer;
  sender: SocketSender;
  lastSeen: number;
  /** Rooms waiting on this peer; liveness matters only while there are some. */
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
    const socket = new Dealer({ routingId: this.opts.nodeId, sendTimeout: 1000, sendHighWaterMark: 10000, receiveHighWaterMark: 10000, linger: 0 });
    socket.connect(`tcp://${bootstrap.host}:${bootstrap.port}`);
    peer = { socket, sender: new SocketSender(socket, this.opts.log), lastSeen: Date.now(), rooms: new Set() };
    this.peers.set(key, peer);
    void this.receive(key, peer);
    return peer;
  }

  private post(peer: PrefillPeer, msg: DecodeToPrefill): void {
    peer.sender.send([JSON.stringify(msg)]);
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
          this.opts.toScheduler({ type: 'room_failed', room: msg.room, message: msg.message });
        }
      }
    } catch (err) {
      if (this.peers.get(key) === peer) this.opts.log.error({ err, peer: key }, 'decode control socket failed');
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const [key, peer] of this.peers) {
      if (peer.rooms.size === 0) {
        peer.lastSeen = now; // idle: nothing depends on this peer's liveness
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
