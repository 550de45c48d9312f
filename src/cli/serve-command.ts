/**
 * The default command: serve one node until SIGINT or SIGTERM, then close it cleanly (in-flight
 * requests fail with 503, the scheduler worker stops).
 */
import { createLogger } from '../log/logger.js';
import type { NodeOptions } from '../node/options.js';
import { waitForStopSignal } from './wait-for-signal.js';

export async function serveNode(options: NodeOptions): Promise<void> {
  // Loaded here, not at the top of main: --help, gen-model and flag errors need none of the engine.
  const { startNode } = await import('../node/start-node.js');
  const log = createLogger(options.logLevel, 'pd-node-cli');
  const node = await startNode(options);
  log.info({ url: node.url, role: options.role }, `serving at ${node.url}; Ctrl-C stops`);
  const signal = await waitForStopSignal();
  log.info({ signal }, 'stopping');
  await node.close();
  log.info('stopped');
}
