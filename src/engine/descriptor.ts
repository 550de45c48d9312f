/**
 * What pd-node needs to know about an engine, in one object its folder exports
 * (src/engine/<name>/descriptor.ts; the table of built-in ones is src/engine/engines.ts). Decisions:
 * - Flags: each engine declares its own (`--model-shape`, `--kernel`, ...), each setting one field of
 *   its config. The CLI declares them all and refuses one that belongs to another engine than
 *   `--engine`; an embedder passes the same fields as an object, checked by the same parsers.
 * - The config is plain data (it crosses to the scheduler worker by structured clone); the engine
 *   itself is built inside that worker, where the pool lives, by `load` then `create`.
 * - Loading comes before the pool exists: the pool's size (the engine's default when
 *   --max-total-tokens is absent) and its memory follow from the loaded model, and the transfer
 *   backend may place the pool itself (shm), so the worker places it and hands it to `create`.
 * - An engine from an embedding application is a module whose default export is a descriptor
 *   (`EngineChoice.module`), imported in the worker: a class instance cannot cross threads.
 */
import type { KvLayout } from '../kv/layout.js';
import type { KvPool } from '../kv/pool.js';
import type { TextTokenizer } from '../model/types.js';
import type { Engine } from './engine.js';

/** An engine's settings: plain, structured-clone safe data, one field per flag. */
export type EngineConfig = Readonly<Record<string, unknown>>;

/**
 * Which engine a node runs: a built-in one by name (src/engine/engines.ts), or an embedder's, a
 * module URL (`new URL('./my-engine.js', import.meta.url).href`) whose default export is an
 * `EngineDescriptor`. `config` is that engine's own (default: every field at its default).
 */
export type EngineChoice = { readonly name: string; readonly config?: EngineConfig } | { readonly module: string; readonly config?: EngineConfig };

export interface EngineFlag {
  /** Flag name without dashes (`model-shape`); unique across the table (test/engine/engines.test.ts). */
  readonly name: string;
  /** The config field it sets (`modelShape`). */
  readonly field: string;
  readonly describe: string;
  /** How --help shows the default. */
  readonly defaultText: string;
  /** The raw value -> the field's value; throws an Error naming `flagName` when it is bad. */
  parse(flagName: string, raw: string): unknown;
}

/** What the scheduler worker tells an engine's `load`. */
export interface EngineContext {
  /**
   * The resolved model: a directory, or a GGUF file (src/model/model-files.ts); the built-in default
   * model when --model-path is absent.
   */
  modelDir: string;
  /** --model-path as given; null: the default model. */
  modelPath: string | null;
  /** Where the tokenizer comes from: `--tokenizer-path`, else `modelDir` (a GGUF file's directory). */
  tokenizerDir: string;
  pageSize: number;
  /** SGLang's `--tp`: how many tensor-parallel ranks (threads, or modelled GPUs) the engine runs. */
  tpSize: number;
  /** Logs a warning on the scheduler's logger. */
  warn(message: string): void;
}

/** The identity a loaded engine reports (ModelInfo; PD peers compare `fingerprint`). */
export interface EngineIdentity {
  modelPath: string;
  /** The served model name when --served-model-name is absent. */
  servedModelName: string;
  numLayers: number;
  hiddenSize: number;
  /** Digest of what decides the KV bytes (weights and tokenizer; a synthetic shape): peers must match. */
  fingerprint: string;
}

/** An engine's model loaded, before its KV pool exists. */
export interface LoadedEngine {
  layout: KvLayout;
  contextLength: number;
  tokenizer: TextTokenizer;
  identity: EngineIdentity;
  /** Pool size in tokens when neither --max-total-tokens nor --mem-fraction-static is given (the descriptor's `poolDefault` says why). */
  defaultPoolTokens: number;
  /** Bytes of weights the engine holds in host memory: --mem-fraction-static leaves the pool the rest. */
  weightBytes: number;
  /** The most bytes `poolMemory` can hold (WASM memory), when it is bounded. */
  maxPoolBytes?: number;
  /**
   * The engine's own pool memory (e.g. WASM memory its kernels read in place); absent: a
   * SharedArrayBuffer. Not used when the transfer backend places the pool (shm on a decode node).
   */
  poolMemory?(layout: KvLayout, pages: number): KvPool;
  /** Builds the engine over `pool`; `logFields` go on the 'scheduler ready' log line. */
  create(pool: KvPool): { engine: Engine; logFields: Record<string, unknown> };
}

export interface EngineDescriptor<C extends EngineConfig = EngineConfig> {
  readonly name: string;
  /** What it is, for --engine's help. */
  readonly summary: string;
  readonly flags: readonly EngineFlag[];
  /** --max-total-tokens' help: this engine's default pool size and why. */
  readonly poolDefault: string;
  /** Fields already parsed by `flags` -> the full config (defaults filled); throws naming the missing flag. */
  config(given: EngineConfig): C;
  /** Throws an Error naming `--tp` when this config cannot run `tp` ranks (checked by the CLI before start-up). */
  checkTp?(config: C, tp: number): void;
  load(config: C, ctx: EngineContext): LoadedEngine | Promise<LoadedEngine>;
}

/** A flag value that must be one of `names` (the error says which, naming the flag). */
export function oneOfNames(flagName: string, raw: string, names: readonly string[]): string {
  if (!names.includes(raw)) throw new Error(`${flagName} must be one of ${names.join(', ')} (got "${raw}")`);
  return raw;
}
