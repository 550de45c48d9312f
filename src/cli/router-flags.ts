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
 * - `--role` may only be `router` here; `--pd-disaggregation` (and the older `--pd-disaggregated`) is
 *   accepted for SGLang compatibility (the router only does PD). A node URL given twice is an error,
 *   not a silent duplicate.
 * - sgl-router's command line starts this router unchanged (`pd-node router ARGS` with the ARGS of
 *   `python -m sglang_router.launch_router`): `--prefill URL [PORT|none]` (no port or `none`: the
 *   node's own, options.ts), `--policy`/`--prefill-policy`/`--decode-policy` with sgl-router's names,
 *   `--max-concurrent-requests` (-1: no bound), `--retry-max-retries N` (N attempts in all) and
 *   `--disable-retries`, `--health-check-timeout-secs` (bounds /health probes: --control-timeout-secs),
 *   `--verbose` (--log-level debug); the flags it has no use for are
 *   accepted and listed once at start-up (`notices`), as are policies run as another
 *   (sgl-router-flags.ts). Two flags that set the same thing are an error.
 */
import yargs from 'yargs';
import { DEFAULT_ROUTER_OPTIONS, MAX_WORKERS, POLICIES, type DecodeSpec, type PolicyName, type PrefillSpec, type RegistrySetting, type RouterOptions } from '../router/options.js';
import { httpUrl } from '../router/upstream-node.js';
import { HOST_IP_ENV } from '../net/published-host.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES_LIMIT } from '../net/payload-limit.js';
import { CLUSTER_SECRET_DEFAULT, CLUSTER_SECRET_HELP, notWildcard } from './node-flags.js';
import { FlagError, integerIn, nonEmpty, oneOf, parseStrictly, portNumber, positiveInteger, positiveSeconds, rawFlag, registryUrl, ETCD_ACCESS_FLAGS, checkEtcdAccess } from './flag-values.js';
import { NO_EFFECT_FLAGS, POLICY_FALLBACKS } from './sgl-router-flags.js';

export const DEFAULT_REGISTRY_PORT = 5757;

export interface RouterFlags {
  /** --help was given: print `routerHelp()` and do nothing else. */
  help: boolean;
  options: Omit<RouterOptions, 'nodeSource'>;
  registry: RegistrySetting;
  /** What to say once at start-up: sgl-router flags accepted with no effect, policies run as another. */
  notices: string[];
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

/** `--NAME POLICY`: pd-node's policies, and sgl-router's `extra` names run as their fallback (noted once). */
function policyFlag(name: string, key: 'policy' | 'prefillPolicy' | 'decodePolicy', describe: string, defaultText: string, extra: readonly string[]): ValueFlag {
  return {
    name,
    arg: 'NAME',
    describe,
    defaultText,
    apply: (flags, raw) => {
      const given = oneOf(`--${name}`, raw, [...POLICIES, ...extra]);
      const fallback: PolicyName | undefined = POLICY_FALLBACKS[given];
      if (fallback !== undefined) flags.notices.push(`--${name} ${given} runs as ${fallback}: ${given} routes by prefix-cache reuse, and pd-node's nodes keep no prefix cache`);
      flags.options[key] = fallback ?? (given as PolicyName);
    },
  };
}

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
  policyFlag('policy', 'policy', `How a prefill and a decode node are picked (${POLICIES.join(', ')}; sgl-router's cache_aware runs as least_load: no prefix cache here); load = requests in flight from this router.`, String(DEFAULT_ROUTER_OPTIONS.policy), ['cache_aware']),
  policyFlag('prefill-policy', 'prefillPolicy', 'Policy for prefill nodes (sgl-router\'s bucket also runs as least_load).', '--policy', ['cache_aware', 'bucket']),
  policyFlag('decode-policy', 'decodePolicy', 'Policy for decode nodes.', '--policy', ['cache_aware']),
  {
    name: 'max-concurrent-requests',
    arg: 'N',
    describe: 'Generation requests in flight through the router at most; more get 503 with Retry-After at once. -1: no bound.',
    defaultText: '-1',
    apply: (flags, raw) => {
      flags.options.maxConcurrentRequests = raw === '-1' ? null : integerIn('--max-concurrent-requests', raw, 1, 1_000_000, 'a positive integer, or -1 for no bound');
    },
  },
  {
    name: 'max-payload-size',
    arg: 'BYTES',
    describe: "Largest request body read, in bytes (sgl-router's flag; its default is 512 MiB); a larger one gets 413. Give the nodes the same --max-payload-size.",
    defaultText: String(DEFAULT_MAX_PAYLOAD_BYTES),
    apply: (flags, raw) => {
      flags.options.maxPayloadBytes = integerIn('--max-payload-size', raw, 1, MAX_PAYLOAD_BYTES_LIMIT, `a byte count from 1 to ${MAX_PAYLOAD_BYTES_LIMIT}`);
    },
  },
  {
    name: 'prometheus-port',
    arg: 'PORT',
    describe: "Also serve GET /metrics on this port (sgl-router's Prometheus exporter); /metrics on --port is always there.",
    defaultText: 'none',
    apply: (flags, raw) => {
      flags.options.prometheus = { host: flags.options.prometheus?.host ?? null, port: portNumber('--prometheus-port', raw) };
    },
  },
  {
    name: 'prometheus-host',
    arg: 'HOST',
    describe: 'Address of the --prometheus-port listener.',
    defaultText: '--host',
    apply: (flags, raw) => {
      const host = nonEmpty('--prometheus-host', raw);
      if (flags.options.prometheus === null) flags.notices.push('--prometheus-host has no effect without --prometheus-port: metrics are at /metrics on --port');
      else flags.options.prometheus = { ...flags.options.prometheus, host };
    },
  },
  option('max-retries', 'N', 'maxRetries', 'Retries on a fresh pair when a node fails before anything reached the client.', (f, raw) => integerIn(f, raw, 0, 100, 'an integer from 0 to 100')),
  {
    name: 'retry-max-retries',
    arg: 'N',
    describe: "sgl-router's spelling: N attempts in all, i.e. --max-retries N-1.",
    defaultText: `${DEFAULT_ROUTER_OPTIONS.maxRetries + 1}`,
    apply: (flags, raw) => {
      flags.options.maxRetries = integerIn('--retry-max-retries', raw, 1, 101, 'an integer from 1 to 101 (attempts in all)') - 1;
    },
  },
  option('request-timeout-secs', 'SECS', 'requestTimeoutSecs', 'Bound on one generation exchange with a node, to its last byte.', positiveSeconds),
  option('queue-timeout-secs', 'SECS', 'queueTimeoutSecs', 'How long a request waits for room while every node answers full (503 + Retry-After), trying again after each Retry-After; then 503.', positiveSeconds),
  option('connect-timeout-secs', 'SECS', 'connectTimeoutSecs', 'Bound on connecting to a node.', positiveSeconds),
  option('control-timeout-secs', 'SECS', 'controlTimeoutSecs', 'Bound on non-generation calls: /health probes, info and flush calls, registry polls.', positiveSeconds),
  option('health-check-timeout-secs', 'SECS', 'controlTimeoutSecs', "sgl-router's spelling of --control-timeout-secs (it bounds /health probes).", positiveSeconds),
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
  const { nodes, lists, rest } = takeMultiValueFlags(argv);
  // yargs' own help is off (it cannot show `--prefill URL [PORT]`); --help is a plain flag here.
  let y = yargs(rest)
    .help(false)
    .option('help', { type: 'boolean', alias: 'h' });
  for (const name of BOOLEAN_FLAGS) y = y.option(name, { type: 'boolean' });
  for (const f of VALUE_FLAGS) y = y.option(f.name, { type: 'string', requiresArg: true });
  for (const f of NO_EFFECT_FLAGS) y = y.option(f.name, f.arity === 'switch' ? { type: 'boolean' } : { type: 'string', requiresArg: true });
  const parsed = parseStrictly(y);

  const flags: RouterFlags = {
    help: parsed.help === true,
    options: { ...DEFAULT_ROUTER_OPTIONS, ...nodes },
    registry: { kind: 'host', port: DEFAULT_REGISTRY_PORT },
    notices: [],
  };
  if (flags.help) return flags;
  for (const { names, why } of EXCLUSIVE) {
    const given = names.filter((name) => (BOOLEAN_FLAGS.includes(name) ? parsed[name] === true : rawFlag(parsed, name) !== undefined));
    if (given.length > 1) throw new FlagError(`${given.map((n) => `--${n}`).join(' and ')} exclude each other: ${why}`);
  }
  if (parsed['disable-retries'] === true) flags.options.maxRetries = 0;
  if (parsed.verbose === true) flags.options.logLevel = 'debug';
  const ignored = NO_EFFECT_FLAGS.filter((f) => lists.has(f.name) || (f.arity === 'switch' ? parsed[f.name] === true : rawFlag(parsed, f.name) !== undefined));
  for (const f of ignored) flags.notices.push(`--${f.name} is accepted for sgl-router compatibility and has no effect here: ${f.why}`);
  for (const f of VALUE_FLAGS) {
    const raw = rawFlag(parsed, f.name);
    if (raw !== undefined) f.apply(flags, raw);
  }
  checkEtcdAccess(flags.options.etcd, flags.registry.kind === 'remote' ? flags.registry.url : null);
  return flags;
}

/** Flags without a value. */
const BOOLEAN_FLAGS: readonly string[] = ['pd-disaggregation', 'pd-disaggregated', 'disable-retries', 'verbose'];

/** Flags that set the same option: giving two is an error, not "last wins". */
const EXCLUSIVE: readonly { names: readonly string[]; why: string }[] = [
  { names: ['max-retries', 'retry-max-retries', 'disable-retries'], why: 'each sets how often a failed request is retried' },
  { names: ['control-timeout-secs', 'health-check-timeout-secs'], why: 'both bound /health probes' },
  { names: ['registry-port', 'registry-url'], why: 'host a registry, or use one running elsewhere' },
  { names: ['verbose', 'log-level'], why: 'both set the log level' },
];

/** sgl-router's flags that take several words (argparse's nargs "+" and "*"), none of which has an effect here. */
const LIST_FLAGS = new Set(NO_EFFECT_FLAGS.filter((f) => f.arity === 'list').map((f) => f.name));

/**
 * Takes every `--prefill URL [PORT|none]`, `--decode URL` and sgl-router list flag (with the words
 * after it) out of argv; the rest is for yargs. `--worker-urls` is refused (sgl-router-flags.ts).
 */
function takeMultiValueFlags(argv: readonly string[]): { nodes: { prefill: PrefillSpec[]; decode: DecodeSpec[] }; lists: Set<string>; rest: string[] } {
  const prefill: PrefillSpec[] = [];
  const decode: DecodeSpec[] = [];
  const lists = new Set<string>();
  const rest: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const name = /^--([a-z-]+)(?:=|$)/.exec(argv[i])?.[1];
    if (name === 'worker-urls') throw new FlagError("--worker-urls is sgl-router's non-PD mode: pd-node's router routes to prefill/decode pairs (--prefill URL, --decode URL); a colocated node (pd-node --role colocated) serves alone");
    if (name !== undefined && LIST_FLAGS.has(name)) {
      lists.add(name);
      if (argv[i].includes('=')) continue;
      while (i + 1 < argv.length && !argv[i + 1].startsWith('-')) i++;
      continue;
    }
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
    const own = !hasValue || next.toLowerCase() === 'none';
    const port = own ? null : integerIn(`--prefill ${raw}`, next, 1, 65535, 'followed by a bootstrap port from 1 to 65535 or none, if anything');
    prefill.push({ url, bootstrapPort: port });
  }
  return { nodes: { prefill, decode }, lists, rest };
}

/** The --help text: every flag with its default. */
export function routerHelp(): string {
  const rows: [string, string, string][] = [
    ['--prefill URL [BOOTSTRAP_PORT|none]', "A prefill node and its bootstrap port (none or no port: the node's own, from the registry, else 8998); repeat for more.", `none; bootstrap port the node's own`],
    ['--decode URL', 'A decode node; repeat for more.', 'none'],
    ['--pd-disaggregation', "Accepted for SGLang's router command line (also --pd-disaggregated); the router always does PD.", 'on'],
    ...VALUE_FLAGS.map((f): [string, string, string] => [`--${f.name} ${f.arg}`, f.describe, f.defaultText]),
    ['--disable-retries', 'No retries: --max-retries 0.', ''],
    ['--verbose', 'Debug logs: --log-level debug.', ''],
    ['--help, -h', 'Show this help.', ''],
  ];
  const ignored = NO_EFFECT_FLAGS.map((f) => `--${f.name}`).join(' ');
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = rows.map(([name, describe, def]) => `  ${name.padEnd(width)}  ${describe}${def === '' ? '' : ` [default: ${def}]`}`);
  return [
    'pd-node router (or pd-node --role router): route generation requests to prefill/decode node pairs',
    "(SGLang's PD router; takes the arguments of python -m sglang_router.launch_router as they are).",
    '',
    'Nodes come from --prefill/--decode and from the registry (nodes register at start-up and leave',
    'when they stop or die).',
    '',
    ...lines,
    '',
    `Accepted for sgl-router compatibility, with no effect (listed at start-up when given): ${ignored}`,
    '',
  ].join('\n');
}
