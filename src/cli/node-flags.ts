/**
 * The flags that configure a node, mapped to `NodeOptions`: one table drives the yargs options, the
 * --help text (with every default) and the validation, so they cannot disagree. Names follow
 * SGLang's launch_server where it has the flag. Decisions:
 * - `--role colocated|prefill|decode`; SGLang's `--disaggregation-mode null|prefill|decode` means the
 *   same (null: colocated). The router and registry roles have flags of their own (router-flags.ts).
 * - Unknown flags are errors (yargs strict mode), as are repeated flags and flags without a value.
 * - `--engine synthetic` needs `--model-shape`, and `--model-shape` means nothing without it: both
 *   are usage errors naming the flags (checked after every flag is read, so order does not matter).
 */
import yargs, { type Argv } from 'yargs';
import { GPU_NAMES, MAX_GPU_COUNT, parseGpu } from '../engine/synthetic/gpus.js';
import { MODEL_SHAPE_NAMES } from '../engine/synthetic/model-shapes.js';
import { DEFAULT_NODE_OPTIONS, type NodeOptions } from '../node/options.js';
import { HOST_IP_ENV } from '../net/published-host.js';
import { isWildcardHost } from '../net/address-kind.js';
import { defaultTransferConfig, TRANSFER_BACKEND_NAMES, TRANSFER_BACKENDS } from '../transfer/backends.js';
import type { BackendFlag, TransferBackend } from '../transfer/transfer-backend.js';
import { FlagError, nonEmpty, oneOf, parseStrictly, portNumber, positiveInteger, positiveSeconds, rawFlag, registryUrl, ETCD_ACCESS_FLAGS, checkEtcdAccess } from './flag-values.js';

export interface NodeFlag {
  readonly name: string;
  readonly describe: string;
  /** How --help shows the default; by default the base option's value. */
  defaultText(base: Readonly<NodeOptions>): string;
  apply(opts: NodeOptions, raw: string): void;
}

/** --cluster-secret-file, as the node, router and registry flags all describe it. */
export const CLUSTER_SECRET_HELP = 'file with the cluster secret (64 hex digits, mode 0600) that every node, router and registry of the cluster holds; copy it to every host.';
export const CLUSTER_SECRET_DEFAULT = '$PD_NODE_CLUSTER_SECRET_FILE, else ~/.config/pd-node/cluster-secret (created on first use)';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const KERNELS = ['wasm', 'js'] as const;
const ROLES = ['colocated', 'prefill', 'decode'] as const;
const ENGINES = ['reference', 'synthetic'] as const;

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
      let settings: S;
      try {
        settings = f.apply(selected ? (opts.transfer.settings as S) : backend.defaults, raw, `--${f.name}`);
      } catch (err) {
        throw new FlagError((err as Error).message);
      }
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
      opts.transfer = defaultTransferConfig(oneOf('--disaggregation-transfer-backend', raw, TRANSFER_BACKEND_NAMES));
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
  flag('model-path', 'modelPath', 'Hugging Face model directory (config.json, *.safetensors, tokenizer.json).', nonEmpty, 'the built-in tiny model, generated once and cached'),
  flag('served-model-name', 'servedModelName', 'Model name reported by /v1/models and accepted in "model" fields.', nonEmpty, 'the model path'),
  flag('host', 'host', 'Address to listen on; 0.0.0.0 or :: listens on every interface (see --advertise-host for what is published then).', nonEmpty),
  flag('advertise-host', 'advertiseHost', `PD: address to publish in the registry (HTTP URL, bootstrap socket, KV endpoint) instead of --host, e.g. behind NAT or with a wildcard --host; SGLang reads the same from $${HOST_IP_ENV}, which is used when this flag is not given.`, notWildcard, `$${HOST_IP_ENV}, else --host; with a wildcard --host, the address of the interface that routes to the registry (logged)`),
  flag('port', 'port', 'Port to listen on; 0 picks a free one.', portNumber),
  flag('page-size', 'pageSize', 'Tokens per KV cache page.', positiveInteger),
  flag('max-total-tokens', 'maxTotalTokens', 'KV pool size in tokens (rounded up to whole pages).', positiveInteger, "reference: 256 MiB of KV (at most 65,536 tokens) but at least one context; synthetic: 16,384 tokens, at most 2 GiB of KV"),
  flag('max-running-requests', 'maxRunningRequests', 'Most requests decoding at once.', positiveInteger),
  flag('chunked-prefill-size', 'chunkedPrefillSize', 'Most prompt tokens fed in one forward step (longer prompts are chunked).', positiveInteger),
  flag('max-batch-size', 'maxBatchSize', 'Most prompts accepted in one /generate or /v1/completions call.', positiveInteger),
  flag('log-level', 'logLevel', `Log level (${LOG_LEVELS.join(', ')}); logs go to stderr as JSON.`, (f, raw) => oneOf(f, raw, LOG_LEVELS)),
  flag('engine', 'engine', `Engine (${ENGINES.join(', ')}): reference runs the Llama transformer of --model-path; synthetic does no math, writing KV of --model-shape's real size (verified by decode nodes) and taking its roofline step times on --gpu, with the tokenizer of --model-path (default: the built-in tiny model's), so input_ids must be below that vocabulary.`, (f, raw) => oneOf(f, raw, ENGINES)),
  flag('model-shape', 'modelShape', `Synthetic engine: the model whose KV sizes and step times it takes (${MODEL_SHAPE_NAMES.join(', ')}).`, (f, raw) => oneOf(f, raw, MODEL_SHAPE_NAMES), 'none (required with --engine synthetic)'),
  flag('gpu', 'gpu', `Synthetic engine: the GPU its roofline models (${GPU_NAMES.join(', ')}), or COUNTxNAME for an ideal tensor-parallel group (8xh100).`, (f, raw) => {
    if (!parseGpu(raw)) throw new FlagError(`${f} must be one of ${GPU_NAMES.join(', ')}, optionally as COUNTxNAME with COUNT 1-${MAX_GPU_COUNT} (got "${raw}")`);
    return raw;
  }),
  flag('kernel', 'kernel', `Matmul kernels of the reference engine (${KERNELS.join(', ')}); results are bit-identical.`, (f, raw) => oneOf(f, raw, KERNELS)),
];

/** Declares `flags` (default: all) on a yargs instance, with --help defaults taken from `base`. */
export function addNodeFlags<T>(y: Argv<T>, base: Readonly<NodeOptions> = DEFAULT_NODE_OPTIONS, flags: readonly NodeFlag[] = NODE_FLAGS): Argv<T> {
  for (const f of flags) {
    y = y.option(f.name, { type: 'string', requiresArg: true, describe: f.describe, defaultDescription: f.defaultText(base) }) as Argv<T>;
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
  if (opts.engine === 'synthetic' && opts.modelShape === null) throw new FlagError(`--engine synthetic needs --model-shape (one of ${MODEL_SHAPE_NAMES.join(', ')})`);
  if (opts.engine !== 'synthetic' && opts.modelShape !== null) throw new FlagError('--model-shape applies to --engine synthetic only');
  return opts;
}

/** Pure: node flags (no command name) -> `NodeOptions`; throws a FlagError naming the flag. */
export function parseNodeFlags(argv: string[]): NodeOptions {
  return nodeOptionsFrom(parseStrictly(addNodeFlags(yargs(argv)).help(false)));
}
