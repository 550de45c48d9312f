/**
 * Which local address the kernel would send from to reach a destination: a UDP socket connect()ed to
 * it, then its local address. A UDP connect only looks up the route and fixes the peer; it sends no
 * packet, so this works towards a host that is down, and costs one route lookup.
 *
 * - A host name is resolved first (dns.lookup, as every connect does), bounded by ROUTE_TIMEOUT_MS.
 * - No route (ENETUNREACH, a name that does not resolve) is an answer, null, not an error: the caller
 *   falls back to another rule and says so.
 */
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { withTimeout } from '../util/timeout.js';
import { isWildcardHost } from './address-kind.js';

/** A resolver that is slower than this is broken; start-up must not hang on it. */
const ROUTE_TIMEOUT_MS = 5000;
/** Any port will do: nothing is sent. The discard port says so to anyone reading a trace. */
const DISCARD_PORT = 9;

export async function routeSourceAddress(destination: string): Promise<string | null> {
  try {
    return await withTimeout(lookUp(destination), ROUTE_TIMEOUT_MS, `route to ${destination}`);
  } catch {
    return null;
  }
}

async function lookUp(destination: string): Promise<string> {
  const address = isIP(destination) ? destination : (await lookup(destination)).address;
  const socket = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(DISCARD_PORT, address, (err?: Error) => (err ? reject(err) : resolve()));
    });
    const source = socket.address().address;
    // Never a wildcard after a successful connect; checked so that no caller can publish one.
    if (isWildcardHost(source)) throw new Error(`no source address towards ${destination}`);
    return source;
  } finally {
    socket.close();
  }
}
