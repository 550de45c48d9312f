/**
 * The default command: serve one node until SIGINT or SIGTERM, then close it cleanly (in-flight
 * requests fail with 503, the scheduler worker stops).
 *
 * A node whose scheduler actor died (a crash in the worker thread) can serve nothing: it closes and
 * the process exits with status 1, so it leaves the registry and the router's pools at once (its
 * PD peers see the process go) instead of answering 503 to every request while still listed.
 */
import { createLogger } from '../log/logger.js';
import type { NodeOptions } from '../node/options.js';
import { waitForStopSignal } from './wait-for-signal.js';

/** `warnings`: the command line's start-up warnings (sglang-flags.ts), each logged once before the node starts. */
export async function serveNode(options: NodeOptions, warnings: readonly string[] = []): Promise<void> {
  // Loaded here, not at the top of main: --help, gen-model and flag errors need none of the engine.
  const { startNode } = await import('../node/start-node.js');
  const log = createLogger(options.logLevel, 'pd-node-cli');
  for (const warning of warnings) log.warn(warning);
  const node = await startNode(options);
  log.info({ url: node.url, role: options.role }, `serving at ${node.url}; Ctrl-C stops`);
  const ended = await Promise.race([waitForStopSignal().then((signal) => ({ signal })), node.client.lost.then((lost) => ({ lost }))]);
  if ('lost' in ended) log.fatal({ reason: ended.lost }, 'the scheduler actor is gone; stopping this node');
  else log.info({ signal: ended.signal }, 'stopping');
  await node.close();
  log.info('stopped');
  if ('lost' in ended) process.exitCode = 1;
}
