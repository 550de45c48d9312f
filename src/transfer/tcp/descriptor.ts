/**
 * The tcp backend as the rest of pd-node sees it (transfer-backend.ts): no flags, the engine's pool,
 * a plain single-stream socket as the pd-bench baseline and iperf3 as the reference tool. Always
 * available: the fallback.
 */
import type { TransferBackend } from '../transfer-backend.js';
import { parseTcpEndpoint, type TcpEndpoint } from './endpoint.js';
import { TcpKvManager } from './tcp-kv-manager.js';

export const TCP_BACKEND: TransferBackend<Record<string, never>, TcpEndpoint> = {
  name: 'tcp',
  needs: 'works between any hosts',
  defaults: {},
  flags: [],
  parseEndpoint: parseTcpEndpoint,
  publish: (endpoint, host) => ({ ...endpoint, host }),
  createManager: async (_settings, env) => new TcpKvManager(env),
  unavailable: async () => null,
  bench: { baseline: 'plain socket', reference: 'iperf3' },
};
