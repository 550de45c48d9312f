/**
 * `pd-node --role router ...` (flags: router-flags.ts): serve until SIGINT or SIGTERM, then close.
 * The router hosts the registry unless --registry-url names one. With --workers N > 1, router-cluster.ts
 * runs N router processes on the port.
 */
import { startRouterWithRegistry } from '../router/start-router-with-registry.js';
import { serveRouterCluster } from './router-cluster.js';
import type { RouterFlags } from './router-flags.js';
import { waitForStopSignal } from './wait-for-signal.js';

export async function serveRouter(flags: RouterFlags): Promise<void> {
  if (flags.options.workers > 1) return serveRouterCluster(flags.options, flags.registry);
  const running = await startRouterWithRegistry(flags.options, flags.registry);
  await waitForStopSignal();
  await running.close();
}
