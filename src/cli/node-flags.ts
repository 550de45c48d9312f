/**
 * The flags that configure a node, mapped to `NodeOptions`: one table drives the yargs options, the
 * --help text (with every default) and the validation, so they cannot disagree. Names follow
 * SGLang's launch_server where it has the flag. Decisions:
 * - `--role colocated` is the only role until the disaggregation work lands; SGLang's
 *   `--disaggregation-mode null` means the same. Any other value is a usage error saying so.
 * - Unknown flags are errors (yargs strict mode), as are repeated flags and flags without a value.
 */
import yargs, { type Argv } from 'yargs';
import { DEFAULT_NODE_OPTIONS, type NodeOptions } from '../node/options.js';
import { FlagError, nonEmpty, oneOf, PARSER_CONFIGURATION, portNumber, positiveInteger, rawFlag, usageError } from './flag-values.js';

export interface NodeFlag {
  readonly name: string;
  readonly describe: string;
  /** How --help shows the default; by default the base option's value. */
  defaultText(base: Readonly<NodeOptions>): string;
  apply(opts: NodeOptions, raw: string): void;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const KERNELS = ['wasm', 'js'] as const;
const PD_LATER = 'PD roles (prefill, decode, router) arrive with the disaggregation work';

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

export const NODE_FLAGS: readonly NodeFlag[] = [
  flag('role', 'role', `What this node does: colocated (prefill and decode in one node). ${PD_LATER}.`, (f, raw) => {
    if (raw !== 'colocated') throw new FlagError(`${f} "${raw}" is not available yet: only colocated is; ${PD_LATER}`);
    return 'colocated';
  }),
  flag('disaggregation-mode', 'role', `SGLang's name for the role: null means colocated. ${PD_LATER}.`, (f, raw) => {
    if (raw !== 'null') throw new FlagError(`${f} "${raw}" is not available yet: only null (colocated) is; ${PD_LATER}`);
    return 'colocated';
  }),
  flag('model-path', 'modelPath', 'Hugging Face model directory (config.json, *.safetensors, tokenizer.json).', nonEmpty, 'the built-in tiny model, generated once and cached'),
  flag('served-model-name', 'servedModelName', 'Model name reported by /v1/models and accepted in "model" fields.', nonEmpty, 'the model path'),
  flag('host', 'host', 'Address to listen on.', nonEmpty),
  flag('port', 'port', 'Port to listen on; 0 picks a free one.', portNumber),
  flag('page-size', 'pageSize', 'Tokens per KV cache page.', positiveInteger),
  flag('max-total-tokens', 'maxTotalTokens', 'KV pool size in tokens (rounded up to whole pages).', positiveInteger, "sized from the model's context length"),
  flag('max-running-requests', 'maxRunningRequests', 'Most requests decoding at once.', positiveInteger),
  flag('chunked-prefill-size', 'chunkedPrefillSize', 'Most prompt tokens fed in one forward step (longer prompts are chunked).', positiveInteger),
  flag('max-batch-size', 'maxBatchSize', 'Most prompts accepted in one /generate or /v1/completions call.', positiveInteger),
  flag('log-level', 'logLevel', `Log level (${LOG_LEVELS.join(', ')}); logs go to stderr as JSON.`, (f, raw) => oneOf(f, raw, LOG_LEVELS)),
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
  return opts;
}

/** Pure: node flags (no command name) -> `NodeOptions`; throws a FlagError naming the flag. */
export function parseNodeFlags(argv: string[]): NodeOptions {
  const parsed = addNodeFlags(yargs(argv))
    .parserConfiguration(PARSER_CONFIGURATION)
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw usageError(msg, err);
    })
    .parseSync();
  return nodeOptionsFrom(parsed);
}
