/**
 * Prefill node's control socket (ZeroMQ ROUTER on the bootstrap port). Decode nodes connect with a
 * DEALER whose routing id is their node id. Here the handshake is checked (model, KV layout,
 * transfer backend: a mismatch fails the room with a clear error, never wrong text), page lists go
 * to the scheduler actor, and its notices go back to the right decode node. A decode node that sends
 * nothing (not even its pings) for `peerTimeoutMs` is declared lost: its rooms fail and free pages.
 *
 * Socket decisions: a CURVE server of the cluster's keys whose clients the ZAP handler checks, so
 * only decode nodes holding the cluster secret reach this loop; frames over
 * MAX_DECODE_TO_PREFILL_BYTES disconnect their sender inside ZeroMQ; `handover`, so a decode node
 * reconnecting after a partition takes its routing id back from the dead connection at once. Decode
 * DEALERs announce every (re)connection with an empty frame (`probeRouter`); one from a peer already
 * known is logged as a reconnection, which is when a handover can have happened.
 */
import { Router } from 'zeromq';
import type { PdInbound } from '../../actors/scheduler/protocol.js';
import type { Logger } from '../log/logger.js';
import type { KvLayoutInfo, ModelIdentity } from '../registry/protocol.js';
import { curveServerOptions, type CurveKeys } from '../security/curve-keys.js';
import { admitClusterClients } from '../security/zap-handler.js';
import { MAX_DECODE_TO_PREFILL_BYTES } from './control-limits.js';
import { parseDecodeToPrefill, type DecodeToPrefill, type PrefillToDecode } from './control-protocol.js';
import { handshakeProblem } from './handshake.js';
import { SocketSender } from './socket-sender.js';

export interface PrefillControlOptions {
  host: string;
  port: number;
  model: ModelIdentity;
  kvLayout: KvLayoutInfo;
  backend: string;
  peerTimeoutMs: number;
  /** The cluster's CURVE keys: only decode nodes holding the secret get in. */
  curve: CurveKeys;
  log: Logger;
  /** Delivers messages to the scheduler actor. */
  toScheduler: (msg: PdInbound) => void;
}

export class PrefillControl {
  private readonly sender: SocketSender;
  private readonly lastSeen = new Map<string, number>();
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;

  private constructor(private readonly socket: Router, readonly port: number, private readonly releaseZap: () => void, private readonly opts: PrefillControlOptions) {
    this.sender = new SocketSender(socket, opts.log);
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(50, opts.peerTimeoutMs / 3)).unref();
    void this.receive();
  }

  static async bind(opts: PrefillControlOptions): Promise<PrefillControl> {
    const releaseZap = await admitClusterClients(opts.curve, opts.log);
    const socket = new Router({
      sendTimeout: 1000, sendHighWaterMark: 10000, receiveHighWaterMark: 10000, linger: 0,
      handover: true, maxMessageSize: MAX_DECODE_TO_PREFILL_BYTES, ...curveServerOptions(opts.curve),
    });
    try {
      await socket.bind(`tcp://${opts.host}:${opts.port}`);
    } catch (err) {
      socket.close();
      releaseZap();
      throw new Error(`cannot bind the bootstrap port ${opts.host}:${opts.port} (--disaggregation-bootstrap-port): ${(err as Error).message}`);
    }
    const port = Number(new URL(socket.lastEndpoint!.replace('tcp://', 'http://')).port);
    return new PrefillControl(socket, port, releaseZap, opts);
  }

  /** Sends a notice to a decode node. */
  send(peerId: string, msg: PrefillToDecode): void {
    this.sender.send([peerId, JSON.stringify(msg)]);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.sender.close();
    this.socket.close();
    this.releaseZap();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [id, frame] of this.socket) {
        const peerId = id.toString('utf8');
        const connected = frame === undefined || frame.length === 0;
        if (connected && this.lastSeen.has(peerId)) this.opts.log.info({ peerId }, 'decode node reconnected (its routing id is handed over from any connection still holding it)');
        this.lastSeen.set(peerId, Date.now());
        if (connected) continue;
        const parsed = parseDecodeToPrefill(frame);
        if ('error' in parsed) {
          this.opts.log.warn({ peerId, error: parsed.error }, 'bad control message dropped');
          continue;
        }
        this.handle(peerId, parsed.msg);
      }
    } catch (err) {
      if (!this.closed) this.opts.log.error({ err }, 'prefill control socket failed');
    }
  }

  private handle(peerId: string, msg: DecodeToPrefill): void {
    switch (msg.type) {
      case 'ping':
        return this.send(peerId, { v: 1, type: 'pong' });
      case 'kv_request': {
        const problem = handshakeProblem(this.opts, msg);
        if (problem) {
          this.opts.log.warn({ room: msg.room, peerId, problem }, 'PD handshake refused');
          this.send(peerId, { v: 1, type: 'room_failed', room: msg.room, message: problem });
          // The room fails here too (its pages are freed now, not at the bootstrap timeout).
          return this.opts.toScheduler({ type: 'room_failed', room: msg.room, message: problem, peerId });
        }
        return this.opts.toScheduler({ type: 'kv_target', room: msg.room, peerId, endpoint: msg.endpoint, pageIds: msg.pageIds, writer: msg.writer });
      }
      case 'room_failed':
        return this.opts.toScheduler({ type: 'room_failed', room: msg.room, message: msg.message, peerId });
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [peerId, seen] of this.lastSeen) {
      if (now - seen <= this.opts.peerTimeoutMs) continue;
      this.lastSeen.delete(peerId);
      const message = `decode node ${peerId} stopped answering for ${this.opts.peerTimeoutMs / 1000} s`;
      this.opts.log.warn({ peerId }, message);
      this.opts.toScheduler({ type: 'peer_lost', peerId, message });
    }
  }
}
