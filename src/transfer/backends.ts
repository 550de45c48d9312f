/**
 * The transfer backend behind `--disaggregation-transfer-backend`. Importing this is cheap on any OS:
 * the shm backend loads libc only when it first maps a segment, and the verbs backend loads
 * libibverbs only when its manager is made (and fails there without a usable RDMA device). Options concern the backends with a connection
 * (tcp, verbs); shm has no connection to bound, and only reports a writer lock it cannot judge.
 */
import type { KvManager, TransferBackendName } from './kv-transfer.js';
import { ShmKvManager } from './shm/shm-kv-manager.js';
import { TcpKvManager, type TcpKvOptions } from './tcp/tcp-kv-manager.js';
import { VerbsKvManager, type VerbsKvOptions } from './verbs/verbs-kv-manager.js';

export function createKvManager(name: TransferBackendName, options: TcpKvOptions & Pick<VerbsKvOptions, 'ibDevices'>): KvManager {
  switch (name) {
    case 'tcp':
      return new TcpKvManager(options);
    case 'shm':
      return new ShmKvManager(options.onRefuse);
    case 'verbs':
      return new VerbsKvManager(options);
  }
}
