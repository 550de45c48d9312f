/**
 * The default command: serve one node until SIGINT or SIGTERM, then close it cleanly (in-flight
 * requests fail with 503, the scheduler worker stops). A second signal during the close is not caught,
 * so it ends the process at once: the way out of a close that hangs.
 */
import { createLogger } from '../log/logger.js';
import type { NodeOptions } from '../node/options.js';

export async function serveNode(options: NodeOptions): Promise<void> {
  // Loaded here, not at the top of main: --help, gen-model and flag errors need none of the engine.
  const { startNode } = await import('../node/start-node.js');
  const log = createLogger(options.logLevel, 'pd-node-cli');
  const node = await startNode(options);
  log.info({ url: node.url, role: options.role }, `serving at ${node.url}; Ctrl-C stops`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(sig);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  log.info({ signal }, 'stopping');
  await node.close();
  log.info('stopped');
}
