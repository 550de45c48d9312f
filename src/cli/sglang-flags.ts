/**
 * SGLang's `launch_server` flags on `pd-node` (python/sglang/srt/server_args.py), so SGLang command
 * lines run unchanged. Every flag a PD user types is one of:
 * - implemented: a node flag setting a `NodeOptions` field (node-flags.ts holds the older ones; the
 *   SGLang-only ones are `SGLANG_NODE_FLAGS` here). `SGLANG_IMPLEMENTED` lists them all, for the
 *   docs and the test that keeps them true;
 * - accepted, no effect here (`SGLANG_NO_EFFECT_FLAGS`): flags naming hardware, kernels or features
 *   pd-node's engines do not have. They parse as SGLang parses them (switch, value or list) and are
 *   listed once at start-up in one warning.
 * Anything else is still refused naming the flag (yargs strict mode). Decisions:
 * - `--disaggregation-transfer-backend mooncake|nixl|...` (SGLang's backends) is an error naming
 *   `verbs`, pd-node's RDMA backend, rather than a silent substitute: the user picks it knowingly.
 * - `--disaggregation-ib-device` names verbs' devices. SGLang's default backend is mooncake (RDMA),
 *   pd-node's is tcp, so a seed command with the flag and no backend runs over TCP with a start-up
 *   warning that the devices are unused; with verbs, a missing device fails at start-up naming it.
 * - `--nnodes`/`--node-rank` split one model over hosts in SGLang; pd-node holds a model in one
 *   process, so only 1 and 0 are accepted (with no effect), anything else is an error.
 * - `--log-level` takes SGLang's (Python's) names too: warning, critical, any case.
 */
import type { Argv } from 'yargs';
import { SCHEDULE_POLICIES } from '../../actors/scheduler/schedule-policy.js';
import type { NodeOptions } from '../node/options.js';
import { TRANSFER_BACKENDS } from '../transfer/backends.js';
import { LOAD_FORMATS } from '../model/model-files.js';
import { FlagError, integerIn, nonEmpty, oneOf, positiveInteger } from './flag-values.js';
import type { NodeFlag } from './node-flags.js';
import type { NoEffectFlag } from './no-effect-flag.js';

/** SGLang's transfer backends, each with pd-node's equivalent. */
const SGLANG_BACKENDS: Readonly<Record<string, { use: string; why: string }>> = {
  mooncake: { use: 'verbs', why: 'RDMA WRITEs through libibverbs, as mooncake does' },
  nixl: { use: 'verbs', why: 'RDMA through libibverbs' },
  mori: { use: 'verbs', why: 'RDMA through libibverbs' },
  ascend: { use: 'verbs', why: 'RDMA through libibverbs' },
  mooncake_tcp: { use: 'tcp', why: 'KV over TCP' },
  fake: { use: 'tcp', why: 'KV over TCP on one host or many' },
};

/** `raw` unless it is one of SGLang's transfer backends, which is refused naming pd-node's equivalent. */
export function notSglangBackend(f: string, raw: string): string {
  const instead = SGLANG_BACKENDS[raw];
  if (instead !== undefined) throw new FlagError(`${f} ${raw} is SGLang's; pd-node's equivalent is ${f} ${instead.use} (${instead.why})`);
  return raw;
}

/** Python's logging names (SGLang's --log-level), any case, in pino's spelling; others pass through lowercased. */
export function pinoLogLevel(raw: string): string {
  const lower = raw.toLowerCase();
  return lower === 'warning' ? 'warn' : lower === 'critical' ? 'fatal' : lower;
}

/** A fraction in (0, 1]. */
function fraction(f: string, raw: string): number {
  const value = /^\d*\.?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(value > 0 && value <= 1)) throw new FlagError(`${f} must be a fraction in (0, 1] (got "${raw}")`);
  return value;
}

function setting<K extends keyof NodeOptions>(name: string, key: K, describe: string, defaultText: string, parse: (f: string, raw: string) => NodeOptions[K]): NodeFlag {
  return { name, describe, defaultText: () => defaultText, apply: (opts, raw) => void (opts[key] = parse(`--${name}`, raw)) };
}

/** A flag whose only meaningful value here is `only` (with no effect); any other value is refused with `why`. */
function onlyValue(name: string, only: string, describe: string, why: string): NodeFlag {
  return {
    name,
    describe,
    defaultText: () => only,
    apply: (_opts, raw) => {
      if (raw !== only) throw new FlagError(`--${name} ${raw}: ${why}`);
    },
  };
}

/** SGLang's flags implemented here that pd-node did not have before (node-flags.ts adds them to NODE_FLAGS). */
export const SGLANG_NODE_FLAGS: readonly NodeFlag[] = [
  setting('revision', 'revision', 'Hub id --model-path: the branch, tag or commit of the cached snapshot to serve.', 'main', nonEmpty),
  setting(
    'load-format',
    'loadFormat',
    `How --model-path stores its weights (${LOAD_FORMATS.join(', ')}): safetensors, a Hugging Face directory; gguf, a .gguf file (f32, f16 or bf16 tensors, architecture llama; the tokenizer is the tokenizer.json beside it or in --tokenizer-path), or a directory holding one; auto, a directory's safetensors, else its .gguf file, and a file as GGUF. SGLang's other formats are refused.`,
    'auto',
    (f, raw) => oneOf(f, raw, LOAD_FORMATS),
  ),
  setting('tokenizer-path', 'tokenizerPath', "Tokenizer directory or hub id (tokenizer.json), when not the model's; its ids must fit the model's vocabulary.", "the model's", nonEmpty),
  setting('context-length', 'contextLength', "Longest sequence (prompt + output) accepted; may lower the model's context length, not raise it.", "the model's (config.json max_position_embeddings)", positiveInteger),
  setting(
    'mem-fraction-static',
    'memFractionStatic',
    "Size the KV pool from memory, as SGLang does from GPU memory: this fraction of the host's memory (or the cgroup limit) holds the weights and the KV pool, so the pool gets fraction x memory - weights (synthetic engine: no weights). With --max-total-tokens the smaller wins.",
    'none: the default pool size (--max-total-tokens)',
    fraction,
  ),
  setting('max-prefill-tokens', 'maxPrefillTokens', 'Most prompt tokens prefilled in one step over all its requests (with --chunked-prefill-size, the smaller bounds each step).', '16384', positiveInteger),
  setting(
    'schedule-policy',
    'schedulePolicy',
    `Order of admitting waiting requests (${SCHEDULE_POLICIES.join(', ')}): fcfs arrival order; lof longest max_new_tokens first; random a seeded shuffle; lpm and dfs-weight rank by prefix-cache hits, and pd-node has no prefix cache, so they are fcfs.`,
    'fcfs',
    (f, raw) => oneOf(f, raw, SCHEDULE_POLICIES),
  ),
  setting('random-seed', 'randomSeed', 'Seed for requests without their own sampling seed (mixed with the request id) and for --schedule-policy random; give PD prefill and decode nodes the same seed.', 'none: the request id alone', (f, raw) => integerIn(f, raw, 0, 2 ** 32 - 1, 'an integer in [0, 2^32)')),
  onlyValue('nnodes', '1', 'Hosts one model spans: pd-node holds a model in one process, so 1.', 'pd-node holds a model in one process and cannot split one over hosts; run a pd-node node per host behind the router'),
  onlyValue('node-rank', '0', 'Rank of this host in --nnodes: 0.', 'only rank 0 exists: pd-node holds a model in one process (--nnodes 1)'),
];


const NO_GPU = 'no GPU here: the reference engine runs on the CPU, the synthetic one models a GPU (--gpu)';
const ONE_ENGINE = "each node runs one engine; scale out with more nodes behind the router";
const NO_PREFIX_CACHE = 'pd-node has no prefix cache';
const OWN_KERNELS = "the engine's own kernels (--kernel)";

/** Accepted for compatibility, no effect here (each with why). */
export const SGLANG_NO_EFFECT_FLAGS: readonly NoEffectFlag[] = [
  { name: 'trust-remote-code', arity: 'switch', why: 'pd-node runs no code from model repositories: its engine implements the Llama architecture itself' },
  { name: 'base-gpu-id', arity: 'value', why: NO_GPU },
  { name: 'gpu-id-step', arity: 'value', why: NO_GPU },
  { name: 'device', arity: 'value', why: NO_GPU },
  { name: 'dp-size', aliases: ['dp', 'data-parallel-size'], arity: 'value', why: ONE_ENGINE },
  { name: 'ep-size', aliases: ['ep', 'expert-parallel-size'], arity: 'value', why: `no expert parallelism (no MoE engine); ${ONE_ENGINE}` },
  { name: 'pp-size', aliases: ['pipeline-parallel-size'], arity: 'value', why: `no pipeline parallelism; ${ONE_ENGINE}` },
  { name: 'enable-dp-attention', arity: 'switch', why: ONE_ENGINE },
  { name: 'enable-dp-lm-head', arity: 'switch', why: ONE_ENGINE },
  { name: 'moe-a2a-backend', arity: 'value', why: 'no expert parallelism (no MoE engine)' },
  { name: 'moe-runner-backend', arity: 'value', why: 'no MoE engine' },
  { name: 'deepep-mode', arity: 'value', why: 'no expert parallelism (no MoE engine)' },
  { name: 'enable-two-batch-overlap', arity: 'switch', why: 'no expert parallelism to overlap' },
  { name: 'attention-backend', arity: 'value', why: OWN_KERNELS },
  { name: 'prefill-attention-backend', arity: 'value', why: OWN_KERNELS },
  { name: 'decode-attention-backend', arity: 'value', why: OWN_KERNELS },
  { name: 'sampling-backend', arity: 'value', why: 'one sampler (src/sampling)' },
  { name: 'cuda-graph-max-bs', arity: 'value', why: NO_GPU },
  { name: 'cuda-graph-bs', arity: 'list', why: NO_GPU },
  { name: 'disable-cuda-graph', arity: 'switch', why: NO_GPU },
  { name: 'disable-cuda-graph-padding', arity: 'switch', why: NO_GPU },
  { name: 'enable-torch-compile', arity: 'switch', why: 'no PyTorch' },
  { name: 'torch-compile-max-bs', arity: 'value', why: 'no PyTorch' },
  { name: 'enable-p2p-check', arity: 'switch', why: NO_GPU },
  { name: 'dist-init-addr', aliases: ['nccl-init-addr'], arity: 'value', why: 'no distributed group: one process holds the model (--nnodes 1)' },
  { name: 'nccl-port', arity: 'value', why: 'no NCCL' },
  { name: 'dist-timeout', arity: 'value', why: 'no distributed group' },
  { name: 'dtype', arity: 'value', why: 'the reference engine computes in float32 from the stored weights; the synthetic one uses its shape\'s dtype' },
  { name: 'kv-cache-dtype', arity: 'value', why: "KV is float32 (reference) or the shape's dtype (synthetic)" },
  { name: 'quantization', arity: 'value', why: 'pd-node serves unquantized safetensors checkpoints' },
  { name: 'download-dir', arity: 'value', why: 'pd-node never downloads: hub ids are read from the local Hugging Face cache' },
  { name: 'tokenizer-mode', arity: 'value', why: 'one tokenizer implementation (tokenizer.json)' },
  { name: 'disable-radix-cache', arity: 'switch', why: NO_PREFIX_CACHE },
  { name: 'enable-hierarchical-cache', arity: 'switch', why: NO_PREFIX_CACHE },
  { name: 'disaggregation-decode-enable-radix-cache', arity: 'switch', why: NO_PREFIX_CACHE },
  { name: 'disaggregation-decode-enable-offload-kvcache', arity: 'switch', why: 'the KV pool lives in host memory already' },
  { name: 'disaggregation-decode-tp', arity: 'value', why: 'prefill and decode check each other\'s KV layout at the handshake; no TP layout to translate' },
  { name: 'disaggregation-decode-dp', arity: 'value', why: ONE_ENGINE },
  { name: 'disaggregation-prefill-pp', arity: 'value', why: 'no pipeline parallelism' },
  { name: 'disaggregation-decode-polling-interval', arity: 'value', why: 'decode nodes are told when KV arrives (no polling)' },
  { name: 'num-reserved-decode-tokens', arity: 'value', why: 'decode takes a page when it crosses a page boundary and retracts the youngest sequence when the pool runs dry' },
  { name: 'max-queued-requests', arity: 'value', why: 'queues are bounded per role and refuse with 503 + Retry-After (SGLang ignores this flag in PD mode too)' },
  { name: 'schedule-conservativeness', arity: 'value', why: 'admission keeps a page of headroom per running request' },
  { name: 'enable-mixed-chunk', arity: 'switch', why: 'every step already mixes prefill chunks and decode tokens' },
  { name: 'num-continuous-decode-steps', arity: 'value', why: 'the scheduler takes messages between every step' },
  { name: 'disable-overlap-schedule', arity: 'switch', why: 'no overlap scheduler' },
  { name: 'enable-deterministic-inference', arity: 'switch', why: 'the engines are always batch-invariant: the same request gives the same tokens in any batch' },
  { name: 'sleep-on-idle', arity: 'switch', why: 'an idle node always sleeps' },
  { name: 'watchdog-timeout', arity: 'value', why: 'every wait in pd-node has its own bound' },
  { name: 'skip-server-warmup', arity: 'switch', why: 'pd-node sends no warm-up request' },
  { name: 'warmups', arity: 'value', why: 'pd-node sends no warm-up request' },
  { name: 'stream-interval', arity: 'value', why: 'streams send every token' },
  { name: 'enable-metrics', arity: 'switch', why: '/metrics is always on' },
  { name: 'enable-cache-report', arity: 'switch', why: `cached_tokens is always 0: ${NO_PREFIX_CACHE}` },
  { name: 'log-requests', arity: 'switch', why: 'request lines are logged at debug level (--log-level debug)' },
  { name: 'log-level-http', arity: 'value', why: 'one logger: --log-level' },
  { name: 'show-time-cost', arity: 'switch', why: 'timings are in /metrics' },
  { name: 'decode-log-interval', arity: 'value', why: 'throughput is in /metrics' },
];

const NO_EFFECT_GROUP = 'SGLang flags accepted for compatibility, no effect here (docs/sglang-compatibility.md says why):';

/** Declares the no-effect flags, parsed as SGLang parses them, in their own --help group. */
export function addSglangNoEffectFlags<T>(y: Argv<T>): Argv<T> {
  for (const f of SGLANG_NO_EFFECT_FLAGS) {
    const common = { alias: f.aliases ? [...f.aliases] : undefined, describe: `No effect: ${f.why}.` };
    if (f.arity === 'switch') y = y.option(f.name, { ...common, type: 'boolean' }) as Argv<T>;
    else y = y.option(f.name, { ...common, type: 'string', requiresArg: true, array: f.arity === 'list' }) as Argv<T>;
  }
  return y.group(SGLANG_NO_EFFECT_FLAGS.map((f) => f.name), NO_EFFECT_GROUP) as Argv<T>;
}

/** The no-effect flags present in parsed `argv`, as `--name`. */
export function noEffectFlagsGiven(argv: Record<string, unknown>): string[] {
  return SGLANG_NO_EFFECT_FLAGS.filter((f) => argv[f.name] !== undefined).map((f) => `--${f.name}`);
}

/** The start-up warnings of a command line: its no-effect flags (one line) and flags that do nothing with the options chosen. */
export function startupWarnings(argv: Record<string, unknown>, opts: Readonly<NodeOptions>): string[] {
  const warnings: string[] = [];
  const ignored = noEffectFlagsGiven(argv);
  if (ignored.length > 0) warnings.push(`accepted for compatibility, no effect here: ${ignored.join(', ')} (docs/sglang-compatibility.md says why)`);
  // A backend's own flag (seed 000 passes --disaggregation-ib-device with no backend) does nothing for another backend.
  for (const backend of TRANSFER_BACKENDS) {
    if (backend.name === opts.transfer.backend && opts.role !== 'colocated') continue;
    for (const f of backend.flags) {
      const value = argv[f.name];
      if (value === undefined) continue;
      const why = opts.role === 'colocated' ? 'a colocated node transfers no KV' : `KV moves over ${opts.transfer.backend}`;
      warnings.push(`--${f.name} ${String(value)} has no effect: it is a setting of --disaggregation-transfer-backend ${backend.name}, and ${why} (pd-node's default backend is tcp; SGLang's, mooncake, is RDMA)`);
    }
  }
  return warnings;
}

/**
 * Every SGLang launch_server flag pd-node implements, with the `NodeOptions` field it sets (what
 * docs/sglang-compatibility.md's table lists).
 */
export const SGLANG_IMPLEMENTED: Readonly<Record<string, string>> = {
  'model-path': 'modelPath (alias --model): a directory or a hub id in the local Hugging Face cache',
  revision: 'revision',
  'tokenizer-path': 'tokenizerPath',
  'load-format': 'loadFormat: auto, safetensors, gguf (f32, f16, bf16 tensors)',
  'context-length': 'contextLength',
  'served-model-name': 'servedModelName',
  host: 'host',
  port: 'port',
  'api-key': 'apiKey',
  'log-level': 'logLevel (SGLang\'s warning and critical too)',
  'mem-fraction-static': 'memFractionStatic',
  'max-total-tokens': 'maxTotalTokens',
  'max-running-requests': 'maxRunningRequests',
  'chunked-prefill-size': 'chunkedPrefillSize',
  'max-prefill-tokens': 'maxPrefillTokens',
  'page-size': 'pageSize',
  tp: 'tpSize (alias --tp-size): tensor-parallel ranks of the engine',
  'schedule-policy': 'schedulePolicy (lpm, dfs-weight: fcfs, no prefix cache)',
  'random-seed': 'randomSeed',
  'disaggregation-mode': 'role',
  'disaggregation-transfer-backend': 'transfer.backend (tcp, shm, verbs; mooncake/nixl refused naming verbs)',
  'disaggregation-bootstrap-port': 'bootstrapPort',
  'disaggregation-ib-device': 'transfer.settings.ibDevices (verbs)',
  nnodes: 'checked: 1 only',
  'node-rank': 'checked: 0 only',
};
