/**
 * `pd-node --role registry [--host H] [--advertise-host A] [--registry-port P] [--cluster-secret-file F] [--log-level L]`:
 * a registry alone, for deployments where routers on other hosts read it (--registry-url) and nodes
 * register with it. Only processes holding the same cluster secret get in.
 */
import yargs from 'yargs';
import { createLogger, type LogLevel } from '../log/logger.js';
import { startRegistry } from '../registry/registry-server.js';
import { loadClusterSecret } from '../security/cluster-secret.js';
import { curveKeys } from '../security/curve-keys.js';
import { HOST_IP_ENV } from '../net/published-host.js';
import { publishedRegistryUrl } from '../registry/published-url.js';
import { CLUSTER_SECRET_DEFAULT, CLUSTER_SECRET_HELP, notWildcard } from './node-flags.js';
import { nonEmpty, oneOf, parseStrictly, portNumber, rawFlag } from './flag-values.js';
import { DEFAULT_REGISTRY_PORT } from './router-flags.js';
import { waitForStopSignal } from './wait-for-signal.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface RegistryFlags {
  host: string;
  /** Host of the registry URL printed for nodes; null: $SGLANG_HOST_IP, else chosen (published-url.ts). */
  advertiseHost: string | null;
  port: number;
  clusterSecretFile: string | null;
  logLevel: LogLevel;
}

/** The flags, or null when --help was given (yargs printed the help: nothing else to do). */
export function parseRegistryFlags(argv: string[]): RegistryFlags | null {
  const parsed = parseStrictly(
    yargs(argv)
      .option('role', { type: 'string', requiresArg: true, describe: 'registry' })
      .option('host', { type: 'string', requiresArg: true, describe: 'Address to listen on.', default: '127.0.0.1' })
      .option('advertise-host', { type: 'string', requiresArg: true, describe: `Host of the --registry-url printed for nodes when --host is not it (a wildcard, NAT) [default: $${HOST_IP_ENV}, else --host; with a wildcard --host, the default route's interface]` })
      .option('registry-port', { type: 'string', requiresArg: true, describe: 'Port of the registry (ZeroMQ ROUTER).', default: String(DEFAULT_REGISTRY_PORT) })
      .option('cluster-secret-file', { type: 'string', requiresArg: true, describe: `${CLUSTER_SECRET_HELP} [default: ${CLUSTER_SECRET_DEFAULT}]` })
      .option('log-level', { type: 'string', requiresArg: true, describe: `Log level (${LOG_LEVELS.join(', ')}).`, default: 'info' }),
  );
  if (parsed.help === true) return null;
  const secretFile = rawFlag(parsed, 'cluster-secret-file');
  const advertiseHost = rawFlag(parsed, 'advertise-host');
  return {
    host: nonEmpty('--host', rawFlag(parsed, 'host')!),
    advertiseHost: advertiseHost === undefined ? null : notWildcard('--advertise-host', advertiseHost),
    port: portNumber('--registry-port', rawFlag(parsed, 'registry-port')!),
    clusterSecretFile: secretFile === undefined ? null : nonEmpty('--cluster-secret-file', secretFile),
    logLevel: oneOf('--log-level', rawFlag(parsed, 'log-level')!, LOG_LEVELS),
  };
}

export async function serveRegistry(flags: RegistryFlags): Promise<void> {
  const log = createLogger(flags.logLevel, 'pd-node-registry');
  const secret = loadClusterSecret(flags.clusterSecretFile);
  log.info({ clusterSecret: secret.source }, 'cluster secret');
  const registry = await startRegistry({ host: flags.host, port: flags.port, curve: curveKeys(secret.key), log });
  const { url, why, alternatives, advice } = await publishedRegistryUrl(registry.url, flags.advertiseHost, process.env);
  log.info({ registryUrl: url, boundUrl: registry.url, why, registryUrls: [url, ...alternatives] }, `registry listening: start nodes and routers with ${advice}`);
  await waitForStopSignal();
  await registry.close();
}
