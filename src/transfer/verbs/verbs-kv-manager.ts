/**
 * The verbs transfer backend: one-sided RDMA WRITEs from the prefill pool into the decode pool over
 * the chosen RDMA devices (select-devices.ts). It runs inside the transfer actor's worker thread:
 * nothing here is called from the main thread.
 *
 * Decisions:
 * - Devices are selected when the manager is made, so a node without a usable RDMA device fails at
 *   start-up with require-verbs.ts's message; they are opened, the pool registered on them and their
 *   completion pollers started at the first listen or connect (the pool comes with those calls).
 *   They stay open until `close`: registration pins the pool's pages, slow for a large pool, so a
 *   prefill node with many decode peers (or links that come and go) registers it once per device.
 * - One pool per manager (the transfer actor has one); another pool is an error, not a second
 *   registration.
 */
import type { KvEndpoint, KvManager, KvReceiver, KvSender, PoolRegion } from '../kv-transfer.js';
import type { VerbsEndpoint } from './endpoint.js';
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
  private opened: { pool: PoolRegion; devices: Promise<VerbsDevice[]> } | null = null;

  constructor(private readonly options: VerbsKvOptions) {
    this.selection = requireVerbsDevices(options.ibDevices);
  }

  async listen(pool: PoolRegion, host: string): Promise<KvReceiver> {
    return VerbsKvReceiver.listen(await this.devices(pool), pool, host, this.options.onRefuse);
  }

  async connect(peer: KvEndpoint, pool: PoolRegion, writer: string): Promise<KvSender> {
    if (peer.backend !== 'verbs') throw new Error(`the verbs backend cannot connect to a ${peer.backend} endpoint`);
    return VerbsKvSender.connect(peer as VerbsEndpoint, await this.devices(pool), pool, this.options.connectTimeoutMs, writer);
  }

  /** Stops the pollers and frees every verbs object (close receivers and senders first). */
  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = null;
    const devices = await opened?.devices.catch(() => []);
    await Promise.all((devices ?? []).map((d) => d.close()));
  }

  /** The chosen devices with `pool` registered, opened on first use. */
  private devices(pool: PoolRegion): Promise<VerbsDevice[]> {
    if (this.opened) {
      if (this.opened.pool.buffer !== pool.buffer) throw new Error('the verbs backend serves one pool per manager');
      return this.opened.devices;
    }
    const devices = this.openAll(pool);
    this.opened = { pool, devices };
    devices.catch(() => {
      if (this.opened?.devices === devices) this.opened = null;
    });
    return devices;
  }

  private async openAll(pool: PoolRegion): Promise<VerbsDevice[]> {
    const opened = await Promise.allSettled(this.selection.chosen.map((choice) => VerbsDevice.open(choice, pool)));
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return opened.map((r) => (r as PromiseFulfilledResult<VerbsDevice>).value);
    await Promise.all(opened.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    throw failed.reason;
  }
}
