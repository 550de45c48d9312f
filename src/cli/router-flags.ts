/**
 * The flags of `pd-node --role router`, mapped to `RouterOptions` plus where the registry lives.
 * Names follow SGLang's router (`--pd-disaggregation --prefill URL [BOOTSTRAP_PORT] --decode URL
 * --host --port --policy ...`). Decisions:
 * - `--prefill URL [PORT]` takes an optional second value, which yargs cannot express, so `--prefill`
 *   and `--decode` are taken from the raw argv first: a URL, then (prefill only) a bootstrap port when
 *   the next word is not a flag. Everything else goes through yargs in strict mode (unknown, repeated
 *   and value-less flags are errors), as the node's flags do.
 * - One table drives parsing and the --help text (every flag with its default), so they cannot drift.
 * - The router hosts the registry (on --registry-port, default 5757) unless --registry-url names a
 *   remote one; giving both is an error. Registry nodes join the static ones. --advertise-host (the
 *   host of the registry URL printed for nodes) applies to a hosted registry only; it is last in the
 *   table so that it sees where the registry lives.
 * - `--role` may only be `router` here; `--pd-disaggregation` is accepted for SGLang compatibility (the
 *   router only does PD). A node URL given twice is an error, not a silent duplicate.
 */
import yargs from 'yargs';
import { DEFAULT_BOOTSTRAP_PORT, DEFAULT_ROUTER_OPTIONS, MAX_WORKERS, POLICIES, type DecodeSpec, type PrefillSpec, type RegistrySetting, type RouterOptions } from '../router/options.js';
import { httpUrl } from '../router/upstream-node.js';
import { HOST_IP_ENV } from '../net/published-host.js';
import { CLUSTER_SECRET_DEFAULT, CLUSTER_SECRET_HELP, notWildcard } from './node-flags.js';
import { FlagError, integerIn, nonEmpty, oneOf, parseStrictly, portNumber, positiveInteger, positiveSeconds, rawFlag, registryUrl, ETCD_ACCESS_FLAGS, checkEtcdAccess } from './flag-values.js';

export const DEFAULT_REGISTRY_PORT = 5757;

export interface RouterFlags {
  /** --help was given: print `routerHelp()` and do nothing else. */
  help: boolean;
  options: Omit<RouterOptions, 'nodeSource'>;
  registry: RegistrySetting;
}

type Options = RouterFlags['options'];
type Settable = Exclude<keyof Options, 'prefill' | 'decode'>;

interface ValueFlag {
  name: string;
  arg: string;
  describe: string;
  defaultText: string;
  apply(flags: RouterFlags, raw: string): void;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function option<K extends Settable>(name: string, arg: string, key: K, describe: string, parse: (flag: string, raw: string) => Options[K]): ValueFlag {
  return {
    name,
    arg,
    describe,
    defaultText: String(DEFAULT_ROUTER_OPTIONS[key]),
    apply: (flags, raw) => {
      flags.options[key] = parse(`--${name}`, raw);
    },
  };
}

const VALUE_FLAGS: readonly ValueFlag[] = [
  {
    name: 'role',
    arg: 'router',
    describe: 'What this process does; only router is parsed here.',
    defaultText: 'router',
    apply: (_flags, raw) => {
      if (raw !== 'router') throw new FlagError(`--role must be router for the router's flags (got "${raw}")`);
    },
  },
  option('host', 'HOST', 'host', 'Address to listen on.', nonEmpty),
  option('port', 'PORT', 'port', 'Port to listen on; 0 picks a free one.', portNumber),
  option('policy', 'NAME', 'policy', `How a prefill and a decode node are picked (${POLICIES.join(', ')}); load = requests in flight from this router.`, (f, raw) => oneOf(f, raw, POLICIES)),
  option('max-retries', 'N', 'maxRetries', 'Retries on a fresh pair when a node fails before anything reached the client.', (f, raw) => integerIn(f, raw, 0, 100, 'an integer from 0 to 100')),
  option('request-timeout-secs', 'SECS', 'requestTimeoutSecs', 'Bound on one generation exchange with a node, to its last byte.', positiveSeconds),
  option('connect-timeout-secs', 'SECS', 'connectTimeoutSecs', 'Bound on connecting to a node.', positiveSeconds),
  option('control-timeout-secs', 'SECS', 'controlTimeoutSecs', 'Bound on non-generation calls: /health probes, info and flush calls, registry polls.', positiveSeconds),
  option('down-backoff-secs', 'SECS', 'downBackoffSecs', 'A node that refused a connection is skipped, and probed at this interval until /health answers.', positiveSeconds),
  option('registry-poll-ms', 'MS', 'registryPollMs', 'How often the registry is asked for the current nodes.', positiveInteger),
  {
    name: 'cluster-secret-file',
    arg: 'FILE',
    describe: `Registry: ${CLUSTER_SECRET_HELP}`,
    defaultText: CLUSTER_SECRET_DEFAULT,
    apply: (flags, raw) => {
      flags.options.clusterSecretFile = nonEmpty('--cluster-secret-file', raw);
    },
  },
  option('log-level', 'LEVEL', 'logLevel', `Log level (${LOG_LEVELS.join(', ')}); logs go to stderr as JSON.`, (f, raw) => oneOf(f, raw, LOG_LEVELS)),
  {
    name: 'api-key',
    arg: 'KEY',
    describe: 'Require "Authorization: Bearer KEY" from clients (/health and /metrics stay open), and present the same header to every node: start the nodes with the same --api-key.',
    defaultText: 'none: the API is open and nodes get no key',
    apply: (flags, raw) => {
      flags.options.apiKey = nonEmpty('--api-key', raw);
    },
  },
  // router-perf: scale-out across cores (router-cluster.ts); our extension, sgl-router has no such flag.
  option('workers', 'N', 'workers', 'Router processes sharing the port (node:cluster), as nginx worker_processes; e.g. the number of cores.', (f, raw) => integerIn(f, raw, 1, MAX_WORKERS, `an integer from 1 to ${MAX_WORKERS}`)),
  {
    name: 'registry-port',
    arg: 'PORT',
    describe: 'Host the registry (ZeroMQ) on this port of --host; nodes register with tcp://HOST:PORT.',
    defaultText: String(DEFAULT_REGISTRY_PORT),
    apply: (flags, raw) => {
      flags.registry = { kind: 'host', port: portNumber('--registry-port', raw) };
    },
  },
  {
    name: 'registry-url',
    arg: 'URL',
    describe: 'Use membership kept elsewhere instead of hosting a registry: a registry (pd-node --role registry), tcp://HOST:PORT, or etcd, etcd://HOST:PORT[,HOST:PORT...].',
    defaultText: 'none: the router hosts the registry',
    apply: (flags, raw) => {
      flags.registry = { kind: 'remote', url: registryUrl('--registry-url', raw) };
    },
  },
  ...ETCD_ACCESS_FLAGS.map(
    ({ name, field, arg, describe }): ValueFlag => ({
      name,
      arg,
      describe,
      defaultText: 'none',
      apply: (flags, raw) => {
        flags.options.etcd = { ...flags.options.etcd, [field]: nonEmpty(`--${name}`, raw) };
      },
    }),
  ),
  {
    name: 'advertise-host',
    arg: 'HOST',
    describe: `Hosted registry: the host of the --registry-url printed for nodes, when --host is not it (a wildcard, NAT); SGLang's $${HOST_IP_ENV} means the same and is used when this flag is not given.`,
    defaultText: `$${HOST_IP_ENV}, else --host; with a wildcard --host, the address of the default route's interface (other addresses listed)`,
    apply: (flags, raw) => {
      if (flags.registry.kind !== 'host') throw new FlagError('--advertise-host names the address of a hosted registry; with --registry-url nodes use that URL');
      flags.registry = { ...flags.registry, advertiseHost: notWildcard('--advertise-host', raw) };
    },
  },
];

/** Pure: router flags (no command name) -> `RouterFlags`; throws a FlagError naming the flag. */
export function parseRouterFlags(argv: string[]): RouterFlags {
  const { nodes, rest } = takeNodeFlags(argv);
  // yargs' own help is off (it cannot show `--prefill URL [PORT]`); --help is a plain flag here.
  let y = yargs(rest)
    .help(false)
    .option('pd-disaggregation', { type: 'boolean' })
    .option('help', { type: 'boolean', alias: 'h' });
  for (const f of VALUE_FLAGS) y = y.option(f.name, { type: 'string', requiresArg: true });
  const parsed = parseStrictly(y);

  const flags: RouterFlags = {
    help: parsed.help === true,
    options: { ...DEFAULT_ROUTER_OPTIONS, ...nodes },
    registry: { kind: 'host', port: DEFAULT_REGISTRY_PORT },
  };
  if (flags.help) return flags;
  if (rawFlag(parsed, 'registry-port') !== undefined && rawFlag(parsed, 'registry-url') !== undefined) {
    throw new FlagError('--registry-port and --registry-url exclude each other: host a registry, or use one running elsewhere');
  }
  for (const f of VALUE_FLAGS) {
    const raw = rawFlag(parsed, f.name);
    if (raw !== undefined) f.apply(flags, raw);
  }
  checkEtcdAccess(flags.options.etcd, flags.registry.kind === 'remote' ? flags.registry.url : null);
  return flags;
}

/** Takes every `--prefill URL [PORT]` and `--decode URL` out of argv; the rest is for yargs. */
function takeNodeFlags(argv: readonly string[]): { nodes: { prefill: PrefillSpec[]; decode: DecodeSpec[] }; rest: string[] } {
  const prefill: PrefillSpec[] = [];
  const decode: DecodeSpec[] = [];
  const rest: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(prefill|decode)(?:=(.*))?$/s.exec(argv[i]);
    if (m === null) {
      rest.push(argv[i]);
      continue;
    }
    const flag = `--${m[1]}`;
    const raw = m[2] ?? argv[i + 1];
    if (raw === undefined || (m[2] === undefined && raw.startsWith('-'))) throw new FlagError(`${flag} needs a URL`);
    if (m[2] === undefined) i++;
    const url = httpUrl(raw);
    if (url === null) throw new FlagError(`${flag}: "${raw}" is not an http(s) URL`);
    if (seen.has(url)) throw new FlagError(`${flag}: ${url} is given more than once`);
    seen.add(url);
    const next = argv[i + 1];
    const hasValue = next !== undefined && !next.startsWith('-');
    if (m[1] === 'decode') {
      if (hasValue) throw new FlagError(`--decode ${raw}: unexpected "${next}" (a decode node takes only a URL)`);
      decode.push({ url });
      continue;
    }
    if (hasValue) i++;
    const port = hasValue ? integerIn(`--prefill ${raw}`, next, 1, 65535, 'followed by a bootstrap port from 1 to 65535, if anything') : DEFAULT_BOOTSTRAP_PORT;
    prefill.push({ url, bootstrapPort: port });
  }
  return { nodes: { prefill, decode }, rest };
}

/** The --help text: every flag with its default. */
export function routerHelp(): string {
  const rows: [string, string, string][] = [
    ['--prefill URL [BOOTSTRAP_PORT]', 'A prefill node and its bootstrap port; repeat for more.', `none; bootstrap port ${DEFAULT_BOOTSTRAP_PORT}`],
    ['--decode URL', 'A decode node; repeat for more.', 'none'],
    ['--pd-disaggregation', "Accepted for SGLang's router command line; the router always does PD.", 'on'],
    ...VALUE_FLAGS.map((f): [string, string, string] => [`--${f.name} ${f.arg}`, f.describe, f.defaultText]),
    ['--help, -h', 'Show this help.', ''],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = rows.map(([name, describe, def]) => `  ${name.padEnd(width)}  ${describe}${def === '' ? '' : ` [default: ${def}]`}`);
  return [
    'pd-node --role router: route generation requests to prefill/decode node pairs (SGLang PD router).',
    '',
    'Nodes come from --prefill/--decode and from the registry (nodes register at start-up and leave',
    'when they stop or die).',
    '',
    ...lines,
    '',
  ].join('\n');
}
