/**
 * Hugging Face tensor names <-> ModelWeights.
 *
 * Decisions:
 * - One table (`checkpointTensorSpecs`) lists every tensor with its HF name and expected shape; loading,
 *   writing and the random-model generator all walk it, so they cannot drift apart.
 * - Every shape is checked against the config before use: a checkpoint that does not match its
 *   config.json fails at load time naming the tensor, instead of computing nonsense.
 * - With tied embeddings the output projection is the embedding array itself (no copy, no
 *   `lm_head.weight` needed, and one present in the file is ignored, as transformers does).
 *   Tensors the engine does not use (e.g. old `rotary_emb.inv_freq` buffers) are ignored.
 */
import { readSafetensorsDir, type ReadTensorsOptions, type Tensor, type TensorToWrite } from './safetensors.js';
import type { LayerWeights, LlamaConfig, ModelWeights } from './types.js';

/** One tensor of a checkpoint: its HF name, expected shape, and where it lives in ModelWeights. */
export interface TensorSpec {
  name: string;
  shape: number[];
  get(weights: ModelWeights): Float32Array;
}

const LAYER_TENSORS: ReadonlyArray<{ suffix: string; field: keyof LayerWeights; shape(cfg: LlamaConfig): number[] }> = [
  { suffix: 'input_layernorm.weight', field: 'inputNorm', shape: (c) => [c.hiddenSize] },
  { suffix: 'self_attn.q_proj.weight', field: 'q', shape: (c) => [c.numHeads * c.headDim, c.hiddenSize] },
  { suffix: 'self_attn.k_proj.weight', field: 'k', shape: (c) => [c.numKvHeads * c.headDim, c.hiddenSize] },
  { suffix: 'self_attn.v_proj.weight', field: 'v', shape: (c) => [c.numKvHeads * c.headDim, c.hiddenSize] },
  { suffix: 'self_attn.o_proj.weight', field: 'o', shape: (c) => [c.hiddenSize, c.numHeads * c.headDim] },
  { suffix: 'post_attention_layernorm.weight', field: 'postNorm', shape: (c) => [c.hiddenSize] },
  { suffix: 'mlp.gate_proj.weight', field: 'gate', shape: (c) => [c.intermediateSize, c.hiddenSize] },
  { suffix: 'mlp.up_proj.weight', field: 'up', shape: (c) => [c.intermediateSize, c.hiddenSize] },
  { suffix: 'mlp.down_proj.weight', field: 'down', shape: (c) => [c.hiddenSize, c.intermediateSize] },
];

const layerTensorName = (layer: number, suffix: string): string => `model.layers.${layer}.${suffix}`;

/** The row-major shape of a decoder layer's tensor `field` for `cfg` ([out, in], or [n] for a norm). */
export function layerTensorShape(cfg: LlamaConfig, field: keyof LayerWeights): number[] {
  return LAYER_TENSORS.find((t) => t.field === field)!.shape(cfg);
}

/** Every tensor a checkpoint for `cfg` stores, in checkpoint order (lm_head only when not tied). */
export function checkpointTensorSpecs(cfg: LlamaConfig): TensorSpec[] {
  const specs: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [cfg.vocabSize, cfg.hiddenSize], get: (w) => w.embed }];
  for (let i = 0; i < cfg.numLayers; i++) {
    for (const t of LAYER_TENSORS) {
      specs.push({ name: layerTensorName(i, t.suffix), shape: t.shape(cfg), get: (w) => w.layers[i][t.field] });
    }
  }
  specs.push({ name: 'model.norm.weight', shape: [cfg.hiddenSize], get: (w) => w.finalNorm });
  if (!cfg.tieWordEmbeddings) specs.push({ name: 'lm_head.weight', shape: [cfg.vocabSize, cfg.hiddenSize], get: (w) => w.lmHead });
  return specs;
}

function checkedData(tensors: ReadonlyMap<string, Tensor>, spec: TensorSpec, source: string): Float32Array {
  const tensor = tensors.get(spec.name);
  if (tensor === undefined) throw new Error(`${source}: tensor ${spec.name} is missing (expected shape [${spec.shape.join(', ')}])`);
  const matches = tensor.shape.length === spec.shape.length && tensor.shape.every((d, i) => d === spec.shape[i]);
  if (!matches) {
    throw new Error(`${source}: tensor ${spec.name} has shape [${tensor.shape.join(', ')}], config.json implies [${spec.shape.join(', ')}]`);
  }
  return tensor.data;
}

/** Reads and shape-checks the weights of the model in `dir` (single-file or sharded safetensors). */
export function loadModelWeights(dir: string, cfg: LlamaConfig, options: ReadTensorsOptions = {}): ModelWeights {
  const tensors = readSafetensorsDir(dir, options);
  const byName = new Map(checkpointTensorSpecs(cfg).map((spec) => [spec.name, checkedData(tensors, spec, dir)]));
  const at = (name: string): Float32Array => byName.get(name)!;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < cfg.numLayers; i++) {
    const layer = {} as LayerWeights;
    for (const t of LAYER_TENSORS) layer[t.field] = at(layerTensorName(i, t.suffix));
    layers.push(layer);
  }
  const embed = at('model.embed_tokens.weight');
  return {
    embed,
    layers,
    finalNorm: at('model.norm.weight'),
    lmHead: cfg.tieWordEmbeddings ? embed : at('lm_head.weight'),
  };
}

/** The tensors to store for `weights` under HF names (lm_head omitted when tied). */
export function modelWeightsToTensors(cfg: LlamaConfig, weights: ModelWeights): TensorToWrite[] {
  return checkpointTensorSpecs(cfg).map((spec) => ({ name: spec.name, shape: spec.shape, data: spec.get(weights) }));
}
