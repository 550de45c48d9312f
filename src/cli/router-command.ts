/**
 * `pd-node --role router ...` (flags: router-flags.ts): serve until SIGINT or SIGTERM, then close.
 * The router hosts the registry unless --registry-url names one.
 */
import { startRouterWithRegistry } from '../router/start-router-with-registry.js';
import type { RouterFlags } from './router-flags.js';
import { waitForStopSignal } from './wait-for-signal.js';

export async function serveRouter(flags: RouterFlags): Promise<void> {
  const running = await startRouterWithRegistry(flags.options, flags.registry);
  await waitForStopSignal();
  await running.close();
}
