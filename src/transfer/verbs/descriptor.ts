/**
 * The verbs backend as the rest of pd-node sees it (transfer-backend.ts): it owns
 * `--disaggregation-ib-device` (settings: the devices, or null for the top-rate ACTIVE ports);
 * the pool stays where the engine keeps it and is registered on the devices when the manager opens
 * them; pd-bench compares it with a plain socket and perftest's ib_write_bw. The manager and the
 * device discovery (and so the native bindings) are imported only when asked for.
 */
import type { TransferBackend } from '../transfer-backend.js';
import { parseVerbsEndpoint, type VerbsEndpoint } from './endpoint.js';
import { IB_DEVICE_FLAG, parseIbDeviceList } from './select-devices.js';

export interface VerbsSettings {
  /** `--disaggregation-ib-device`; null: the ACTIVE ports of the top rate. */
  readonly ibDevices: readonly string[] | null;
}

export const VERBS_BACKEND: TransferBackend<VerbsSettings, VerbsEndpoint> = {
  name: 'verbs',
  needs: 'needs an RDMA device on both (see pd-node devices)',
  defaults: { ibDevices: null },
  flags: [
    {
      name: IB_DEVICE_FLAG.slice('--'.length),
      describe: 'RDMA devices to use, comma-separated (e.g. mlx5_0,mlx5_2); pd-node devices shows the choice.',
      defaultText: 'the ACTIVE ports that share the top rate',
      apply: (settings, raw) => ({ ...settings, ibDevices: parseIbDeviceList(raw) }),
    },
  ],
  parseEndpoint: parseVerbsEndpoint,
  publish: (endpoint, host) => ({ ...endpoint, host }),
  createManager: async (settings, env) => {
    const { VerbsKvManager } = await import('./verbs-kv-manager.js');
    return new VerbsKvManager({ ...env, ibDevices: settings.ibDevices ?? undefined });
  },
  unavailable: async () => {
    const { requireVerbsDevices } = await import('./require-verbs.js');
    try {
      requireVerbsDevices();
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  },
  bench: { baseline: 'plain socket', reference: 'ib_write_bw' },
};
