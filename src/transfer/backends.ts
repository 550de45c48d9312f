/**
 * The transfer backend behind `--disaggregation-transfer-backend`. Importing this is cheap on any OS:
 * the shm backend loads libc only when it first maps a segment. Options only concern tcp (shm has no
 * connection to bound and no receiver that could refuse anyone).
 */
import type { KvManager, TransferBackendName } from './kv-transfer.js';
import { ShmKvManager } from './shm/shm-kv-manager.js';
import { DEFAULT_TCP_KV_OPTIONS, TcpKvManager, type TcpKvOptions } from './tcp/tcp-kv-manager.js';

export function createKvManager(name: TransferBackendName, tcpOptions: TcpKvOptions = DEFAULT_TCP_KV_OPTIONS): KvManager {
  switch (name) {
    case 'tcp':
      return new TcpKvManager(tcpOptions);
    case 'shm':
      return new ShmKvManager();
    case 'verbs':
      throw new Error('the verbs backend arrives with RDMA support (issue 4); use --disaggregation-transfer-backend tcp or shm');
  }
}
