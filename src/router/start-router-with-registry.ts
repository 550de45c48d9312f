/**
 * A router with its registry, as the router command runs it: the registry hosted in this process
 * (`startRegistry`, read directly) or membership kept elsewhere (a remote registry, polled, or etcd,
 * watched: src/membership/membership.ts), feeding the router's
 * node source. The returned handle closes the router first (its clients get their answers), then the
 * registry. Waiting for a signal is the command's business, shared with the node's serve command.
 * The registry's address is logged as `registryUrl` (before the router's "router listening" line):
 * the published one (src/registry/published-url.ts), never a wildcard,
 * which is what a parent process reads to start nodes against it. Either way the registry traffic is
 * authenticated with the cluster secret (`clusterSecretFile`), whose source is logged once.
 */
import { createLogger, type Logger } from '../log/logger.js';
import { openMembershipView } from '../membership/membership.js';
import { publishedRegistryUrl } from '../registry/published-url.js';
import { startRegistry } from '../registry/registry-server.js';
import { loadClusterSecret } from '../security/cluster-secret.js';
import { curveKeys, type CurveKeys } from '../security/curve-keys.js';
import type { NodeSource } from '../membership/node-source.js';
import type { RegistrySetting, RouterOptions } from './options.js';
import { hostedRegistrySource } from '../membership/registry-node-source.js';
import { startRouter, type RouterHandle } from './start-router.js';

export interface RouterWithRegistry {
  readonly router: RouterHandle;
  /** tcp://HOST:PORT nodes register with (a hosted registry: its published URL). */
  readonly registryUrl: string;
  close(): Promise<void>;
}

export async function startRouterWithRegistry(options: Omit<RouterOptions, 'nodeSource'>, registry: RegistrySetting): Promise<RouterWithRegistry> {
  const log = createLogger(options.logLevel, 'pd-node-router');
  let nodeSource: NodeSource;
  let registryUrl: string;
  let closeRegistry: () => Promise<void>;
  const curve = routerCurveKeys(options, log);
  if (registry.kind === 'host') {
    const hosted = await hostRegistry(options.host, registry, curve, log);
    nodeSource = hosted.source;
    registryUrl = hosted.url;
    closeRegistry = hosted.close;
  } else {
    const view = openMembershipView(registry.url, { curve, log, requestTimeoutMs: options.controlTimeoutSecs * 1000, etcd: options.etcd });
    log.info({ registryUrl: registry.url }, `using the membership at ${registry.url}`);
    nodeSource = view;
    registryUrl = registry.url;
    closeRegistry = () => view.close();
  }

  let router: RouterHandle;
  try {
    router = await startRouter({ ...options, nodeSource });
  } catch (err) {
    await closeRegistry();
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    router,
    registryUrl,
    close() {
      closing ??= router.close().finally(closeRegistry);
      return closing;
    },
  };
}

/** The registry's CURVE keys from the cluster secret (its source logged once). */
export function routerCurveKeys(options: Pick<RouterOptions, 'clusterSecretFile'>, log: Logger): CurveKeys {
  const secret = loadClusterSecret(options.clusterSecretFile);
  log.info({ clusterSecret: secret.source }, 'cluster secret');
  return curveKeys(secret.key);
}

export interface HostedRegistry {
  /** The published URL (what nodes, and a cluster's router workers, connect to). */
  url: string;
  source: NodeSource;
  close(): Promise<void>;
}

/** Hosts the registry on `host` and logs the URL nodes should use (`registryUrl`). */
export async function hostRegistry(host: string, registry: Extract<RegistrySetting, { kind: 'host' }>, curve: CurveKeys, log: Logger): Promise<HostedRegistry> {
  const hosted = await startRegistry({ host, port: registry.port, curve, log });
  let published;
  try {
    published = await publishedRegistryUrl(hosted.url, registry.advertiseHost ?? null, process.env);
  } catch (err) {
    await hosted.close();
    throw err;
  }
  const { url, why, alternatives, advice } = published;
  log.info({ registryUrl: url, boundUrl: hosted.url, why, registryUrls: [url, ...alternatives] }, `hosting the registry: start nodes with ${advice}`);
  return { url, source: hostedRegistrySource(hosted), close: () => hosted.close() };
}
