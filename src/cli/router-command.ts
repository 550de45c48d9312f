/**
 * `pd-node router [router flags]` (or `pd-node --role router ...`; flags: router-flags.ts): serve
 * until SIGINT or SIGTERM, then close. The router hosts the registry unless --registry-url names one.
 * sgl-router flags accepted with no effect, and policies run as another, are logged once, as one
 * warning, before the router starts.
 * With --workers N > 1, router-cluster.ts runs N router processes on the port.
 */
import { createLogger } from '../log/logger.js';
import { startRouterWithRegistry } from '../router/start-router-with-registry.js';
import { serveRouterCluster } from './router-cluster.js';
import type { RouterFlags } from './router-flags.js';
import { waitForStopSignal } from './wait-for-signal.js';

export async function serveRouter(flags: RouterFlags): Promise<void> {
  if (flags.notices.length > 0) createLogger(flags.options.logLevel, 'pd-node-router').warn({ notices: flags.notices }, 'sgl-router flags accepted for compatibility');
  if (flags.options.workers > 1) return serveRouterCluster(flags.options, flags.registry);
  const running = await startRouterWithRegistry(flags.options, flags.registry);
  await waitForStopSignal();
  await running.close();
}
