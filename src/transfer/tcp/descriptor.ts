/**
 * The tcp backend as the rest of pd-node sees it (transfer-backend.ts): `--tcp-send-buffer` (the
 * data socket's send buffer on the sender, send-buffer.ts), the engine's pool, a plain
 * single-stream socket as the pd-bench baseline and iperf3 as the reference tool. Always available:
 * the fallback.
 */
import { decimalIntegerIn } from '../../util/decimal-integer.js';
import type { TransferBackend } from '../transfer-backend.js';
import { parseTcpEndpoint, type TcpEndpoint } from './endpoint.js';
import { DEFAULT_SEND_BUFFER_BYTES, MAX_SEND_BUFFER_BYTES } from './send-buffer.js';
import { TcpKvManager } from './tcp-kv-manager.js';

export interface TcpSettings {
  /** SO_SNDBUF asked for on a sender's data socket; 0: the kernel's autotuning. */
  readonly sendBufferBytes: number;
}

export const TCP_BACKEND: TransferBackend<TcpSettings, TcpEndpoint> = {
  name: 'tcp',
  needs: 'works between any hosts',
  defaults: { sendBufferBytes: DEFAULT_SEND_BUFFER_BYTES },
  flags: [
    {
      name: 'tcp-send-buffer',
      describe: "Bytes of send buffer (SO_SNDBUF) a prefill node asks for on each KV data connection; Linux grants twice that, capped at net.core.wmem_max. Small keeps the bytes in cache on one host; raise it where a link's bandwidth x round trip is larger. 0: the kernel's autotuning.",
      defaultText: String(DEFAULT_SEND_BUFFER_BYTES),
      apply: (settings, raw, flag) => {
        const sendBufferBytes = decimalIntegerIn(raw, 0, MAX_SEND_BUFFER_BYTES);
        if (sendBufferBytes === null) throw new Error(`${flag} must be a number of bytes from 0 to ${MAX_SEND_BUFFER_BYTES} (got "${raw}")`);
        return { ...settings, sendBufferBytes };
      },
    },
  ],
  parseEndpoint: parseTcpEndpoint,
  publish: (endpoint, host) => ({ ...endpoint, host }),
  createManager: async (settings, env) => new TcpKvManager({ ...env, sendBufferBytes: settings.sendBufferBytes }),
  unavailable: async () => null,
  bench: { baseline: 'plain socket', reference: 'iperf3' },
};
