/**
 * One chosen RDMA device as the verbs backend uses it: an open context, one protection domain, the
 * KV pool registered on it (local write + remote write) and the port facts a queue pair needs.
 *
 * Decisions:
 * - The pool is registered once per device and stays registered until `close`: registration pins
 *   the pages, which is slow for a large pool, and both the receiver (peers write into it) and the
 *   senders (the local NIC reads from it) use the same region.
 * - The GID is the one device selection preferred (RoCE v2 IPv4-mapped where there is one).
 * - Every completion queue and queue pair of a link is made on this context, so `close` (which
 *   destroys whatever is still alive on the context) frees them too.
 */
import { randomInt } from 'node:crypto';
import { DeviceList, type CompletionQueue, type Context, type MemoryRegion, type ProtectionDomain, type QueuePair } from '../../../native/verbs/index.js';
import type { PoolRegion, VerbsDeviceEndpoint } from '../kv-transfer.js';
import type { PortChoice } from './select-devices.js';

/** One side of a link on one device: an RC queue pair and the CQ its sends complete on. */
export interface LinkQp {
  qp: QueuePair;
  cq: CompletionQueue;
  /** Our first PSN (random, so a stale packet of an earlier link is not taken for this one's). */
  psn: number;
}

/** The peer's queue pair as the exchange told it. */
export interface PeerQp {
  qpNum: number;
  psn: number;
  gid: Uint8Array;
  lid: number;
}

export class VerbsDevice {
  private constructor(
    readonly name: string,
    readonly port: number,
    readonly context: Context,
    readonly pd: ProtectionDomain,
    readonly region: MemoryRegion,
    readonly gid: Uint8Array,
    readonly gidIndex: number,
    readonly lid: number,
    /** The port's active MTU (an MTU enum value). */
    readonly activeMtu: number,
  ) {}

  /** Opens the chosen port's device and registers `pool` on it. */
  static open(choice: PortChoice, pool: PoolRegion): VerbsDevice {
    const { device: name, port } = choice.port;
    if (!choice.gid) throw new Error(`${name} port ${port} has no GID`);
    const list = DeviceList.open();
    let context: Context;
    try {
      const device = list.devices.find((d) => d.name === name);
      if (!device) throw new Error(`RDMA device ${name} disappeared after discovery`);
      context = device.open();
    } finally {
      list.free();
    }
    try {
      const attr = context.queryPort(port);
      const gid = context.queryGid(port, choice.gid.index);
      if (!gid) throw new Error(`${name} port ${port}: GID index ${choice.gid.index} is empty`);
      const pd = context.allocProtectionDomain();
      const region = pd.registerMemory(pool.buffer);
      return new VerbsDevice(name, port, context, pd, region, gid.gid, choice.gid.index, attr.lid, attr.activeMtu);
    } catch (err) {
      context.close();
      throw err;
    }
  }

  /** What a receiver publishes for this device. */
  endpoint(): VerbsDeviceEndpoint {
    return { name: this.name, gid: Buffer.from(this.gid).toString('hex'), gidIndex: this.gidIndex, lid: this.lid, addr: this.region.addr.toString(), rkey: this.region.rkey };
  }

  /** A reset RC queue pair with its own CQ, sized for `maxSendWr` outstanding writes. */
  createLinkQp(maxSendWr: number): LinkQp {
    const cq = this.context.createCompletionQueue({ entries: maxSendWr });
    try {
      // One receive slot: the backend never posts receives, but a QP needs a receive queue.
      const qp = this.pd.createQueuePair({ sendCq: cq, recvCq: cq, maxSendWr, maxRecvWr: 1 });
      return { qp, cq, psn: randomInt(1 << 24) };
    } catch (err) {
      cq.destroy();
      throw err;
    }
  }

  /** INIT -> RTR -> RTS towards `peer` over this device's chosen port and GID. */
  connect(link: LinkQp, mtu: number, peer: PeerQp): void {
    link.qp.connect({ port: this.port, sgidIndex: this.gidIndex, mtu, psn: link.psn }, peer);
  }

  /** Destroys a link's QP, then its CQ (the QP uses the CQ). */
  static destroyLinkQp(link: LinkQp): void {
    link.qp.destroy();
    link.cq.destroy();
  }

  /** Frees every verbs object made on the device, then closes it. */
  close(): void {
    this.context.close();
  }
}
