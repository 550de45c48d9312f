/**
 * Which addresses the registry accepts in a record: every address in it (HTTP URL, bootstrap socket)
 * is handed to routers and decode nodes that may run on other hosts, so each must reach the node
 * from there. (A decode node's KV endpoint is not in the record: it travels in its kv_request, with
 * the same published host as its HTTP URL.)
 *
 * Rule (a registry cannot see a peer's address: zeromq.js gives a ROUTER message no peer metadata,
 * and ZAP, which sees the address, does not say which connection a later message comes from):
 * - A wildcard host (0.0.0.0, ::) is always refused: it is a bind address, nobody can dial it.
 * - A loopback host (127.x, ::1, localhost) is accepted only by a registry bound to loopback. Bound
 *   there, every node and every reader (router) of the registry is on this host, so loopback reaches
 *   them all. Bound to a routable address or a wildcard, nodes and routers may be on other hosts,
 *   where a loopback address is their own host: the record would route requests into nothing (the
 *   503 ECONNREFUSED of issue 10). A single-host cluster keeps working by binding the registry to
 *   loopback (the default) or the nodes to the routable address.
 * The reply says which field and what to do; the node logs it once (registry-client.ts).
 */
import { hostOfUrl, isLoopbackHost, isWildcardHost } from '../net/address-kind.js';
import type { NodeRecord } from './protocol.js';

/** Why `record` cannot be published by a registry bound to `registryHost`, or null. */
export function unreachableAddress(record: NodeRecord, registryHost: string): string | null {
  const loopbackAllowed = isLoopbackHost(registryHost);
  const hosts: [string, string | null][] = [['httpUrl', hostOfUrl(record.httpUrl)]];
  if (record.controlAddr !== null) hosts.push(['controlAddr', hostOfUrl(record.controlAddr)]);
  for (const [field, host] of hosts) {
    if (host === null) continue;
    if (isWildcardHost(host)) return `${field} has the wildcard host "${host}", which no peer can dial: start the node with --advertise-host ADDRESS (or --host ADDRESS)`;
    if (!loopbackAllowed && isLoopbackHost(host)) {
      return `${field} has the loopback host ${host}, but this registry (bound to ${registryHost}) serves other hosts, which cannot reach it: start the node with --host or --advertise-host set to its address on the cluster's network`;
    }
  }
  return null;
}
