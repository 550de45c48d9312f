import type { Server } from 'node:net';
import { withTimeout } from '../util/timeout.js';

/**
 * Starts `server` on an OS-chosen port of `host` (or on `port`) and returns the port; a bind that
 * fails or takes longer than `timeoutMs` closes the server and rejects (receivers of the tcp and
 * verbs backends, the tcp sender's dial-back listener, the benchmarks).
 */
export async function listenOnFreePort(server: Server, host: string, timeoutMs: number, what: string, port = 0): Promise<number> {
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    await withTimeout(listening, timeoutMs, `${what} listen on ${host}${port === 0 ? '' : `:${port}`}`);
  } catch (err) {
    server.close();
    throw err;
  }
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`${what}: unexpected server address ${address}`);
  return address.port;
}
