/**
 * The address a process publishes for others to reach it (node: its HTTP URL, bootstrap socket and
 * KV endpoint in the registry record; router and registry: the registry URL printed for nodes), and
 * why, so the choice is logged once with its reason.
 *
 * In order:
 * 1. `--advertise-host`, else the SGLANG_HOST_IP environment variable (what SGLang's disaggregation
 *    code publishes as the local IP): as given. A wildcard there is refused (it names no host).
 * 2. A bind address that is not a wildcard: peers reach the process where it listens.
 * 3. Wildcard bind: the source address of the kernel's route to `towards` (the registry's host, for a
 *    node), i.e. the interface the registry and its readers are reached through. On a host with
 *    several networks this is the one the cluster uses, where "the first external interface" may be
 *    another network (issue 10).
 * 4. Wildcard bind and no route to `towards` (or nothing to route to): the source of the default
 *    route (towards DEFAULT_ROUTE_PROBE).
 * 5. No default route: the first external IPv4 interface, else 127.0.0.1; the log says it is a guess.
 */
import { networkInterfaces } from 'node:os';
import { isWildcardHost } from './address-kind.js';
import { routeSourceAddress } from './route-source.js';

/** The environment variable SGLang reads for the address it publishes. */
export const HOST_IP_ENV = 'SGLANG_HOST_IP';
/**
 * A destination only used to ask which route the kernel takes by default: TEST-NET-1 (RFC 5737),
 * never assigned to a real host, routed like any public address. Nothing is sent to it.
 */
const DEFAULT_ROUTE_PROBE = '192.0.2.1';

export interface PublishedHost {
  host: string;
  /** Which rule chose it, for the start-up log. */
  why: string;
}

export interface PublishHostInput {
  bindHost: string;
  /** `--advertise-host`; null: not given. */
  advertiseHost: string | null;
  /** The environment (SGLANG_HOST_IP). */
  env: NodeJS.ProcessEnv;
  /** Host the published address must be reachable from (the registry's), or null. */
  towards: string | null;
  /** What `towards` is, for the log ("the registry"). */
  towardsWhat?: string;
}

export async function choosePublishedHost(input: PublishHostInput): Promise<PublishedHost> {
  const { bindHost, advertiseHost, env, towards, towardsWhat = 'the registry' } = input;
  const envHost = env[HOST_IP_ENV] || null;
  if (advertiseHost !== null) return given(advertiseHost, '--advertise-host');
  if (envHost !== null) return given(envHost, `$${HOST_IP_ENV}`);
  if (!isWildcardHost(bindHost)) return { host: bindHost, why: 'the bind address (--host)' };
  if (towards !== null) {
    const source = await routeSourceAddress(towards);
    if (source !== null) return { host: source, why: `bound to a wildcard: the address of the interface that routes to ${towardsWhat} (${towards}); set --advertise-host to publish another` };
  }
  const noRoute = towards === null ? '' : `no route to ${towardsWhat} (${towards}); `;
  const byDefault = await routeSourceAddress(DEFAULT_ROUTE_PROBE);
  if (byDefault !== null) return { host: byDefault, why: `bound to a wildcard: ${noRoute}the address of the interface of the default route; set --advertise-host to publish another` };
  const external = externalAddresses()[0];
  if (external !== undefined) return { host: external, why: `bound to a wildcard: ${noRoute}no default route, so the first external IPv4 address (a guess); set --advertise-host` };
  return { host: '127.0.0.1', why: `bound to a wildcard: ${noRoute}no external interface, so loopback (this host only)` };
}

/** Every external (non-loopback) IPv4 address of this host, in interface order. */
export function externalAddresses(): string[] {
  const found: string[] = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) found.push(a.address);
  }
  return found;
}

function given(host: string, source: string): PublishedHost {
  if (isWildcardHost(host)) throw new Error(`${source} is "${host}", a wildcard: publish an address peers can reach (this host's address on the cluster's network)`);
  return { host, why: source };
}
