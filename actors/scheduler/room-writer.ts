import type { KvEndpoint, PageRun, WriteResult } from '../../src/transfer/kv-transfer.js';

/** What the prefill side of the scheduler needs from the transfer actor. */
export interface RoomWriter {
  /** Connects (once per peer; later calls reuse the connection) to a decode node's pool. */
  connect(peerId: string, endpoint: KvEndpoint): Promise<void>;
  /** Resolves once the runs are in the peer's pool. */
  write(peerId: string, runs: readonly PageRun[], timeoutMs: number): Promise<WriteResult>;
}
