/**
 * The address a tcp receiver publishes. A receiver bound to a wildcard (0.0.0.0, ::) cannot publish
 * that: peers need an address that reaches it, so it publishes the first external IPv4 address
 * (127.0.0.1 on a host without one). A named address is published as given.
 */
import { networkInterfaces } from 'node:os';

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

export function advertisedHost(bindHost: string): string {
  if (!WILDCARDS.has(bindHost)) return bindHost;
  for (const addresses of Object.values(networkInterfaces())) {
    const external = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (external) return external.address;
  }
  return '127.0.0.1';
}
