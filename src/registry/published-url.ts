/**
 * The registry URL to tell nodes (`--registry-url`), printed by the router hosting a registry and by
 * `pd-node --role registry`. ZeroMQ reports the bound endpoint, which for a wildcard bind is
 * tcp://0.0.0.0:PORT: no node can use that. The host is chosen as a node's is (src/net/published-host.ts)
 * with nothing to route towards (the nodes are not known yet): --advertise-host / $SGLANG_HOST_IP,
 * the bind address, else the default route's interface. On a wildcard bind the other addresses of
 * the host are listed as well: with several networks only the operator knows which one the nodes
 * share, and --advertise-host settles it.
 */
import { bareHost, hostOfUrl, hostPort, isWildcardHost } from '../net/address-kind.js';
import { choosePublishedHost, externalAddresses, HOST_IP_ENV } from '../net/published-host.js';

export interface PublishedRegistryUrl {
  url: string;
  why: string;
  /** Wildcard bind only: the URL at every other external address of this host. */
  alternatives: string[];
  /** What to tell the operator: `--registry-url URL`, with the alternatives if any. */
  advice: string;
}

/** `boundUrl`: the registry's bound endpoint (tcp://HOST:PORT, HOST maybe a wildcard). */
export async function publishedRegistryUrl(boundUrl: string, advertiseHost: string | null, env: NodeJS.ProcessEnv): Promise<PublishedRegistryUrl> {
  const port = Number(/:(\d+)$/.exec(boundUrl)?.[1]);
  const bound = hostOfUrl(boundUrl);
  if (bound === null || !Number.isInteger(port)) throw new Error(`registry endpoint ${boundUrl} is not tcp://HOST:PORT`);
  const chosen = await choosePublishedHost({ bindHost: bound, advertiseHost, env, towards: null });
  const url = `tcp://${hostPort(bareHost(chosen.host), port)}`;
  const guessed = isWildcardHost(bound) && advertiseHost === null && !env[HOST_IP_ENV];
  const alternatives = guessed ? externalAddresses().filter((a) => a !== chosen.host).map((a) => `tcp://${hostPort(a, port)}`) : [];
  const others = alternatives.length === 0 ? '' : ` (or, on another network of this host, ${alternatives.join(', ')}; --advertise-host picks)`;
  return { url, why: chosen.why, alternatives, advice: `--registry-url ${url}${others}` };
}
