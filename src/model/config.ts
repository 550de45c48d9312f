/**
 * Hugging Face `config.json` <-> LlamaConfig.
 *
 * Decisions:
 * - Only what the reference engine computes exactly is accepted: Llama/Mistral decoders with SiLU,
 *   no attention/MLP biases, plain RoPE. Anything else (rope_scaling, sliding windows shorter than the
 *   context, other architectures) is rejected with a message saying what is unsupported, instead of
 *   loading and silently producing wrong text.
 * - Optional fields take the defaults of transformers' LlamaConfig/MistralConfig, so hand-written configs
 *   work; head_dim defaults to hidden/heads and num_key_value_heads to num_attention_heads.
 * - transformers v5 spellings are read too (`dtype`, `rope_parameters`), since new checkpoints use them.
 * - Token ids are checked against vocab_size: an out-of-range EOS would never stop generation.
 */
import { join } from 'node:path';
import { isJsonObject, readJsonFile } from './json-file.js';
import type { LlamaConfig } from './types.js';

const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM'] as const;
const MODEL_TYPE_OF_ARCHITECTURE: Record<string, string> = { LlamaForCausalLM: 'llama', MistralForCausalLM: 'mistral' };
/** transformers' default max_position_embeddings per model_type. */
const DEFAULT_MAX_POSITIONS: Record<string, number> = { llama: 2048, mistral: 4096 * 32 };
const SUPPORTED_DTYPES = ['float32', 'float16', 'bfloat16'];

type JsonObject = Record<string, unknown>;

function fail(message: string): never {
  throw new Error(`config.json: ${message}`);
}

function isAbsent(obj: JsonObject, key: string): boolean {
  return obj[key] === undefined || obj[key] === null;
}

function positiveInteger(obj: JsonObject, key: string, fallback?: number): number {
  if (isAbsent(obj, key) && fallback !== undefined) return fallback;
  const value = obj[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    fail(`${key} must be a positive integer (got ${JSON.stringify(value)})`);
  }
  return value;
}

function positiveNumber(obj: JsonObject, key: string, fallback: number): number {
  if (isAbsent(obj, key)) return fallback;
  const value = obj[key];
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(`${key} must be a positive number (got ${JSON.stringify(value)})`);
  }
  return value;
}

function tokenId(value: unknown, key: string, vocabSize: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= vocabSize) {
    fail(`${key} must be a token id in [0, vocab_size=${vocabSize}) (got ${JSON.stringify(value)})`);
  }
  return value;
}

function rejectIfTrue(obj: JsonObject, key: string, what: string): void {
  if (isAbsent(obj, key) || obj[key] === false) return;
  if (obj[key] === true) fail(`${key}=true is unsupported (${what})`);
  fail(`${key} must be a boolean (got ${JSON.stringify(obj[key])})`);
}

function parseModelType(obj: JsonObject): string {
  const architectures = obj.architectures;
  if (isAbsent(obj, 'architectures')) {
    const modelType = obj.model_type;
    if (modelType === 'llama' || modelType === 'mistral') return modelType;
    fail(`architectures is missing and model_type ${JSON.stringify(modelType)} is unsupported (supported: llama, mistral)`);
  }
  if (!Array.isArray(architectures) || architectures.length === 0 || !architectures.every((a) => typeof a === 'string')) {
    fail(`architectures must be a non-empty list of strings (got ${JSON.stringify(architectures)})`);
  }
  const unsupported = architectures.filter((a) => !(SUPPORTED_ARCHITECTURES as readonly string[]).includes(a));
  if (unsupported.length > 0) {
    fail(`unsupported architecture ${unsupported.join(', ')} (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`);
  }
  return MODEL_TYPE_OF_ARCHITECTURE[architectures[0]];
}

/** rope_theta from `rope_theta` or transformers v5 `rope_parameters`; scaled RoPE variants are rejected. */
function parseRopeTheta(obj: JsonObject): number {
  if (!isAbsent(obj, 'rope_scaling')) {
    fail(`rope_scaling ${JSON.stringify(obj.rope_scaling)} is unsupported (only plain RoPE, rope_scaling null)`);
  }
  if (isAbsent(obj, 'rope_parameters')) return positiveNumber(obj, 'rope_theta', 10000);
  const params = obj.rope_parameters;
  if (!isJsonObject(params)) fail(`rope_parameters must be an object (got ${JSON.stringify(params)})`);
  const ropeType = params.rope_type ?? params.type ?? 'default';
  if (ropeType !== 'default') fail(`rope_parameters.rope_type ${JSON.stringify(ropeType)} is unsupported (only "default")`);
  return positiveNumber(params, 'rope_theta', positiveNumber(obj, 'rope_theta', 10000));
}

function parseDtype(obj: JsonObject): string {
  const key = isAbsent(obj, 'torch_dtype') && !isAbsent(obj, 'dtype') ? 'dtype' : 'torch_dtype';
  if (isAbsent(obj, key)) return 'float32';
  const value = obj[key];
  if (typeof value !== 'string' || !SUPPORTED_DTYPES.includes(value)) {
    fail(`${key} ${JSON.stringify(value)} is unsupported (supported: ${SUPPORTED_DTYPES.join(', ')})`);
  }
  return value;
}

export function parseLlamaConfig(json: unknown): LlamaConfig {
  if (!isJsonObject(json)) fail('must be a JSON object');
  const modelType = parseModelType(json);

  rejectIfTrue(json, 'attention_bias', 'attention projections with biases');
  rejectIfTrue(json, 'mlp_bias', 'MLP projections with biases');
  if (!isAbsent(json, 'hidden_act') && json.hidden_act !== 'silu') {
    fail(`hidden_act ${JSON.stringify(json.hidden_act)} is unsupported (only "silu")`);
  }

  const vocabSize = positiveInteger(json, 'vocab_size');
  const hiddenSize = positiveInteger(json, 'hidden_size');
  const intermediateSize = positiveInteger(json, 'intermediate_size');
  const numLayers = positiveInteger(json, 'num_hidden_layers');
  const numHeads = positiveInteger(json, 'num_attention_heads');
  const numKvHeads = positiveInteger(json, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    fail(`num_key_value_heads (${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  }
  if (isAbsent(json, 'head_dim') && hiddenSize % numHeads !== 0) {
    fail(`head_dim is missing and hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numHeads})`);
  }
  const headDim = positiveInteger(json, 'head_dim', hiddenSize / numHeads);
  const maxPositionEmbeddings = positiveInteger(json, 'max_position_embeddings', DEFAULT_MAX_POSITIONS[modelType]);

  if (!isAbsent(json, 'sliding_window')) {
    const window = positiveInteger(json, 'sliding_window');
    if (window < maxPositionEmbeddings) {
      fail(`sliding_window ${window} < max_position_embeddings ${maxPositionEmbeddings} is unsupported (no sliding-window attention)`);
    }
  }

  const tie = json.tie_word_embeddings ?? false;
  if (typeof tie !== 'boolean') fail(`tie_word_embeddings must be a boolean (got ${JSON.stringify(tie)})`);

  const eos = json.eos_token_id ?? [];
  const eosList = Array.isArray(eos) ? eos : [eos];

  return {
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings,
    rmsNormEps: positiveNumber(json, 'rms_norm_eps', 1e-6),
    ropeTheta: parseRopeTheta(json),
    tieWordEmbeddings: tie,
    bosTokenId: isAbsent(json, 'bos_token_id') ? null : tokenId(json.bos_token_id, 'bos_token_id', vocabSize),
    eosTokenIds: eosList.map((id) => tokenId(id, 'eos_token_id', vocabSize)),
    torchDtype: parseDtype(json),
  };
}

export function loadLlamaConfig(dir: string): LlamaConfig {
  return parseLlamaConfig(readJsonFile(join(dir, 'config.json')));
}

/** config.json contents (HF key names) describing `cfg` as a LlamaForCausalLM. */
export function llamaConfigToJson(cfg: LlamaConfig): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads,
    head_dim: cfg.headDim,
    max_position_embeddings: cfg.maxPositionEmbeddings,
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling: null,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenIds.length === 1 ? cfg.eosTokenIds[0] : cfg.eosTokenIds,
    torch_dtype: cfg.torchDtype,
    use_cache: true,
  };
}
