/**
 * The verbs transfer backend: one-sided RDMA WRITEs from the prefill pool into the decode pool over
 * the chosen RDMA devices (select-devices.ts). It runs inside the transfer actor's worker thread:
 * nothing here is called from the main thread.
 *
 * Decisions:
 * - Devices are selected when the manager is made, so a node without a usable RDMA device fails at
 *   start-up with require-verbs.ts's message; they are opened, and the pool registered on them, at
 *   the first listen or connect (the pool comes with those calls). They are shared by the receiver and every sender of the manager and
 *   closed when the last of those closes (reference count), so a prefill node with many decode peers
 *   registers its pool once per device, not once per peer.
 * - One pool per manager (the transfer actor has one); another pool is an error, not a second
 *   registration.
 */
import type { KvEndpoint, KvManager, KvReceiver, KvSender, PoolRegion } from '../kv-transfer.js';
import { requireVerbsDevices } from './require-verbs.js';
import type { DeviceSelection } from './select-devices.js';
import { VerbsDevice } from './verbs-device.js';
import { VerbsKvReceiver } from './verbs-receiver.js';
import { VerbsKvSender } from './verbs-sender.js';

export interface VerbsKvOptions {
  /** `--disaggregation-ib-device`; undefined: the top-rate ports. */
  ibDevices?: readonly string[];
  /** Bound on connect (TCP + QP exchange). */
  connectTimeoutMs: number;
  /** Told why the receiver refused a sender. */
  onRefuse: (reason: string) => void;
}

export class VerbsKvManager implements KvManager {
  readonly backend = 'verbs';
  private readonly selection: DeviceSelection;
  private shared: { pool: PoolRegion; devices: VerbsDevice[]; users: number } | null = null;

  constructor(private readonly options: VerbsKvOptions) {
    this.selection = requireVerbsDevices(options.ibDevices);
  }

  async listen(pool: PoolRegion, host: string): Promise<KvReceiver> {
    const devices = this.acquire(pool);
    let receiver: VerbsKvReceiver;
    try {
      receiver = await VerbsKvReceiver.listen(devices, pool, host, this.options.onRefuse);
    } catch (err) {
      this.release();
      throw err;
    }
    return { endpoint: receiver.endpoint, close: () => receiver.close().finally(() => this.release()) };
  }

  async connect(peer: KvEndpoint, pool: PoolRegion): Promise<KvSender> {
    if (peer.backend !== 'verbs') throw new Error(`the verbs backend cannot connect to a ${peer.backend} endpoint`);
    const devices = this.acquire(pool);
    return VerbsKvSender.connect(peer, devices, pool, this.options.connectTimeoutMs, () => this.release());
  }

  private acquire(pool: PoolRegion): VerbsDevice[] {
    if (this.shared) {
      if (this.shared.pool.buffer !== pool.buffer) throw new Error('the verbs backend serves one pool per manager');
      this.shared.users++;
      return this.shared.devices;
    }
    const devices: VerbsDevice[] = [];
    try {
      for (const choice of this.selection.chosen) devices.push(VerbsDevice.open(choice, pool));
    } catch (err) {
      for (const d of devices) d.close();
      throw err;
    }
    this.shared = { pool, devices, users: 1 };
    return devices;
  }

  private release(): void {
    if (!this.shared || --this.shared.users > 0) return;
    for (const d of this.shared.devices) d.close();
    this.shared = null;
  }
}
