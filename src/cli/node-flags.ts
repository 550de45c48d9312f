/**
 * The flags that configure a node, mapped to `NodeOptions`: one table drives the yargs options, the
 * --help text (with every default) and the validation, so they cannot disagree. Names follow
 * SGLang's launch_server where it has the flag (sglang-flags.ts: SGLang's other flags, implemented or
 * accepted with no effect). Decisions:
 * - `--role colocated|prefill|decode`; SGLang's `--disaggregation-mode null|prefill|decode` means the
 *   same (null: colocated). The router and registry roles have flags of their own (router-flags.ts).
 * - Unknown flags are errors (yargs strict mode), as are repeated flags and flags without a value.
 * - `--engine` and each engine's own flags come from the engine table (src/engine/engines.ts). An
 *   engine's flag with another `--engine` is a usage error (`--model-shape applies to --engine
 *   synthetic only`), as is a missing required one (`--engine synthetic needs --model-shape`);
 *   `--engine` is applied before the engines' flags, so their order on the command line does not matter.
 */
import yargs, { type Argv } from 'yargs';
import type { EngineDescriptor, EngineFlag } from '../engine/descriptor.js';
import { builtInEngine, checkEngineConfig, ENGINE_NAMES, ENGINES } from '../engine/engines.js';
import { DEFAULT_NODE_OPTIONS, type NodeOptions } from '../node/options.js';
import { HOST_IP_ENV } from '../net/published-host.js';
import { isWildcardHost } from '../net/address-kind.js';
import { MAX_PAYLOAD_BYTES_LIMIT } from '../net/payload-limit.js';
import { asFlagError, FlagError, integerIn, nonEmpty, oneOf, parseStrictly, portNumber, positiveInteger, positiveSeconds, rawFlag, registryUrl, ETCD_ACCESS_FLAGS, checkEtcdAccess } from './flag-values.js';
import { addSglangNoEffectFlags, notSglangBackend, pinoLogLevel, SGLANG_NODE_FLAGS } from './sglang-flags.js';
import { MAX_TP } from '../engine/reference/tensor-parallel/tp-plan.js';
import { defaultTransferConfig, TRANSFER_BACKEND_NAMES, TRANSFER_BACKENDS } from '../transfer/backends.js';
import type { BackendFlag, TransferBackend } from '../transfer/transfer-backend.js';

export interface NodeFlag {
  readonly name: string;
  /** Other names of the flag (SGLang's). */
  readonly aliases?: readonly string[];
  readonly describe: string;
  /** How --help shows the default; by default the base option's value. */
  defaultText(base: Readonly<NodeOptions>): string;
  apply(opts: NodeOptions, raw: string): void;
}

/** --cluster-secret-file, as the node, router and registry flags all describe it. */
export const CLUSTER_SECRET_HELP = 'file with the cluster secret (64 hex digits, mode 0600) that every node, router and registry of the cluster holds; copy it to every host.';
export const CLUSTER_SECRET_DEFAULT = '$PD_NODE_CLUSTER_SECRET_FILE, else ~/.config/pd-node/cluster-secret (created on first use)';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const ROLES = ['colocated', 'prefill', 'decode'] as const;

function flag<K extends keyof NodeOptions>(
  name: string,
  key: K,
  describe: string,
  parse: (flagName: string, raw: string) => NodeOptions[K],
  nullMeaning?: string,
): NodeFlag {
  return {
    name,
    describe,
    defaultText: (base) => (base[key] === null ? (nullMeaning ?? 'none') : String(base[key])),
    apply: (opts, raw) => {
      opts[key] = parse(`--${name}`, raw);
    },
  };
}

/** `--engine NAME`: a built-in engine, its settings starting empty (the engines' flags come after it). */
const engineFlag: NodeFlag = {
  name: 'engine',
  describe: `Engine (${ENGINE_NAMES.join(', ')}): ${ENGINES.map((e) => e.summary).join('; ')}.`,
  defaultText: (base) => ('name' in base.engine ? base.engine.name : base.engine.module),
  apply: (opts, raw) => {
    opts.engine = { name: oneOf('--engine', raw, ENGINE_NAMES) };
  },
};

/** One engine's own flag: sets a field of that engine's config, and only with that `--engine`. */
function engineSettingFlag(owner: EngineDescriptor, f: EngineFlag): NodeFlag {
  return {
    name: f.name,
    describe: f.describe,
    defaultText: () => f.defaultText,
    apply: (opts, raw) => {
      const value = asFlagError(() => f.parse(`--${f.name}`, raw));
      const engine = opts.engine;
      if (!('name' in engine) || engine.name !== owner.name) throw new FlagError(`--${f.name} applies to --engine ${owner.name} only`);
      opts.engine = { name: engine.name, config: { ...engine.config, [f.field]: value } };
    },
  };
}

/**
 * A flag a transfer backend owns: checked whatever the backend, applied to the settings only when
 * that backend is selected (SGLang command lines pass --disaggregation-ib-device with any backend).
 */
function backendFlag<S>(backend: TransferBackend<S>, f: BackendFlag<S>): NodeFlag {
  return {
    name: f.name,
    describe: `${backend.name}: ${f.describe}`,
    defaultText: () => f.defaultText,
    apply: (opts, raw) => {
      const selected = opts.transfer.backend === backend.name;
      const settings = asFlagError(() => f.apply(selected ? (opts.transfer.settings as S) : backend.defaults, raw, `--${f.name}`));
      if (selected) opts.transfer = { backend: backend.name, settings };
    },
  };
}

/** An address to publish: a wildcard names no host a peer could reach. */
export function notWildcard(f: string, raw: string): string {
  const host = nonEmpty(f, raw);
  if (isWildcardHost(host)) throw new FlagError(`${f} must be an address peers can reach, not the wildcard "${raw}"`);
  return host;
}

export const NODE_FLAGS: readonly NodeFlag[] = [
  flag('role', 'role', 'What this node does: colocated (prefill and decode in one node), prefill or decode (PD); router and registry take their own flags (pd-node --role router --help).', (f, raw) => oneOf(f, raw, ROLES)),
  flag('disaggregation-mode', 'role', "SGLang's name for the role: null (colocated), prefill or decode.", (f, raw) => (raw === 'null' ? 'colocated' : oneOf(f, raw, ['prefill', 'decode'] as const))),
  {
    name: 'disaggregation-transfer-backend',
    describe: `How KV moves from prefill to decode: ${TRANSFER_BACKENDS.map((b) => `${b.name} ${b.needs}`).join('; ')}.`,
    defaultText: (base) => base.transfer.backend,
    apply: (opts, raw) => {
      // Before the backends' own flags (table order), which then apply to these settings.
      opts.transfer = defaultTransferConfig(oneOf('--disaggregation-transfer-backend', notSglangBackend('--disaggregation-transfer-backend', raw), TRANSFER_BACKEND_NAMES));
    },
  },
  ...TRANSFER_BACKENDS.flatMap((b: TransferBackend) => b.flags.map((f) => backendFlag(b, f))),
  flag('registry-url', 'registryUrl', 'Membership to register with: the ZeroMQ registry, tcp://HOST:PORT (the router hosts one on --registry-port), or etcd, etcd://HOST:PORT[,HOST:PORT...].', registryUrl, 'none'),
  ...ETCD_ACCESS_FLAGS.map(
    ({ name, field, describe }): NodeFlag => ({
      name,
      describe,
      defaultText: () => 'none',
      apply: (opts, raw) => {
        opts.etcd = { ...opts.etcd, [field]: nonEmpty(`--${name}`, raw) };
      },
    }),
  ),
  flag('disaggregation-bootstrap-port', 'bootstrapPort', 'Prefill: port of the bootstrap socket decode nodes connect to (the router names it after the prefill URL).', portNumber),
  flag('disaggregation-bootstrap-timeout', 'bootstrapTimeoutSecs', 'PD: seconds a request may wait for its peer node (page list or pages) before failing.', positiveSeconds),
  flag('disaggregation-transfer-timeout', 'transferTimeoutSecs', 'PD: seconds one KV transfer may take before its request fails.', positiveSeconds),
  flag('disaggregation-peer-timeout', 'peerTimeoutSecs', 'PD: seconds without an answer from a peer node before its requests fail and free their pages.', positiveSeconds),
  flag('cluster-secret-file', 'clusterSecretFile', `PD: ${CLUSTER_SECRET_HELP}`, nonEmpty, CLUSTER_SECRET_DEFAULT),
  flag('api-key', 'apiKey', 'Require "Authorization: Bearer KEY" on the HTTP API (SGLang\'s --api-key); /health and /metrics stay open. Give the router the same key: it presents it to the nodes.', nonEmpty, 'none: the API is open'),
  { ...flag('model-path', 'modelPath', 'Hugging Face model directory (config.json, *.safetensors, tokenizer.json), or a hub id (org/name) read from the local Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub); never downloaded.', nonEmpty, 'the built-in tiny model, generated once and cached'), aliases: ['model'] },
  flag('served-model-name', 'servedModelName', 'Model name reported by /v1/models and accepted in "model" fields.', nonEmpty, 'the model path'),
  flag('host', 'host', 'Address to listen on; 0.0.0.0 or :: listens on every interface (see --advertise-host for what is published then).', nonEmpty),
  flag('advertise-host', 'advertiseHost', `PD: address to publish in the registry (HTTP URL, bootstrap socket, KV endpoint) instead of --host, e.g. behind NAT or with a wildcard --host; SGLang reads the same from $${HOST_IP_ENV}, which is used when this flag is not given.`, notWildcard, `$${HOST_IP_ENV}, else --host; with a wildcard --host, the address of the interface that routes to the registry (logged)`),
  flag('port', 'port', 'Port to listen on; 0 picks a free one.', portNumber),
  flag('page-size', 'pageSize', 'Tokens per KV cache page.', positiveInteger),
  flag('max-total-tokens', 'maxTotalTokens', 'KV pool size in tokens (rounded up to whole pages).', positiveInteger, ENGINES.map((e) => e.poolDefault).join('; ')),
  flag('max-running-requests', 'maxRunningRequests', 'Most requests decoding at once.', positiveInteger),
  flag('chunked-prefill-size', 'chunkedPrefillSize', 'Most prompt tokens fed in one forward step (longer prompts are chunked).', positiveInteger),
  flag('max-batch-size', 'maxBatchSize', 'Most prompts accepted in one /generate or /v1/completions call.', positiveInteger),
  flag('max-payload-size', 'maxPayloadBytes', 'Largest request body read, in bytes; a larger one gets 413 (the router has the same flag: give both the same value).', (f, raw) => integerIn(f, raw, 1, MAX_PAYLOAD_BYTES_LIMIT, `a byte count from 1 to ${MAX_PAYLOAD_BYTES_LIMIT}`)),
  flag('log-level', 'logLevel', `Log level (${LOG_LEVELS.join(', ')}; SGLang's warning and critical too); logs go to stderr as JSON.`, (f, raw) => oneOf(f, pinoLogLevel(raw), LOG_LEVELS)),
  engineFlag,
  ...ENGINES.flatMap((e) => e.flags.map((f) => engineSettingFlag(e, f))),
  ...SGLANG_NODE_FLAGS,
  ...['tp', 'tp-size'].map((name) =>
    flag(name, 'tpSize', `Tensor parallelism${name === 'tp-size' ? ' (same as --tp)' : ''}: the reference engine runs N threads, each with 1/N of the attention heads and MLP columns (results bit-identical to 1; N at most the KV heads, which may split unevenly; native or WASM kernel); the synthetic engine models N GPUs (--gpu NAME becomes NxNAME).`, (f, raw) => integerIn(f, raw, 1, MAX_TP, `an integer from 1 to ${MAX_TP}`)),
  ),
];

/** Declares `flags` (default: all) on a yargs instance, with --help defaults taken from `base`. */
export function addNodeFlags<T>(y: Argv<T>, base: Readonly<NodeOptions> = DEFAULT_NODE_OPTIONS, flags: readonly NodeFlag[] = NODE_FLAGS): Argv<T> {
  for (const f of flags) {
    y = y.option(f.name, { type: 'string', requiresArg: true, alias: f.aliases ? [...f.aliases] : undefined, describe: f.describe, defaultDescription: f.defaultText(base) }) as Argv<T>;
  }
  return y;
}

/** Validates the parsed flags onto a copy of `base`; throws a FlagError naming the first bad flag. */
export function nodeOptionsFrom(argv: Record<string, unknown>, base: Readonly<NodeOptions> = DEFAULT_NODE_OPTIONS, flags: readonly NodeFlag[] = NODE_FLAGS): NodeOptions {
  const opts: NodeOptions = { ...base };
  for (const f of flags) {
    const raw = rawFlag(argv, f.name);
    if (raw !== undefined) f.apply(opts, raw);
  }
  checkEtcdAccess(opts.etcd, opts.registryUrl);
  const engine = opts.engine;
  if ('name' in engine) {
    const descriptor = builtInEngine(engine.name)!;
    asFlagError(() => descriptor.checkTp?.(checkEngineConfig(descriptor, engine.config ?? {}), opts.tpSize));
  }
  return opts;
}

/** The flags that choose `engine` (a built-in one) on a node's command line: what a launcher passes on. */
export function engineArgs(engine: NodeOptions['engine']): string[] {
  if (!('name' in engine)) throw new Error(`an engine module (${engine.module}) cannot be chosen on the command line; start the node with startNode`);
  const flags = builtInEngine(engine.name)?.flags ?? [];
  const args = ['--engine', engine.name];
  for (const [field, value] of Object.entries(engine.config ?? {})) args.push(`--${flags.find((f) => f.field === field)!.name}`, String(value));
  return args;
}

/** Pure: node flags (no command name) -> `NodeOptions`; throws a FlagError naming the flag. */
export function parseNodeFlags(argv: string[]): NodeOptions {
  return nodeOptionsFrom(parseStrictly(addSglangNoEffectFlags(addNodeFlags(yargs(argv))).help(false)));
}
