/**
 * Generates a random-weight model as a normal Hugging Face directory: config.json, model.safetensors,
 * tokenizer.json, tokenizer_config.json, generation_config.json. Nothing is downloaded.
 *
 * Decisions:
 * - Weights: RMSNorm scales are 1; every matrix is N(0, 1/fan_in) (fan_in = columns of the [out, in]
 *   matrix, the embedding's being hidden_size), which keeps activations and logits O(1) at any depth.
 *   Each tensor has its own PRNG stream keyed by (seed, tensor name): the same seed gives byte-identical
 *   files and generation order does not matter.
 * - The tokenizer is trained on the built-in corpus with as many merges as the vocab has room for (the
 *   corpus may run out first; the rest of the ids become reserved tokens).
 * - The directory is written into a temp dir next to `outDir` and renamed into place, so readers (and
 *   concurrent generators, see default-model.ts) never see a half-written model. An existing non-empty
 *   `outDir` is never overwritten.
 * - Synchronous: it is CPU-bound and runs before serving (CLI, start-up, tests).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BPE_BASE_VOCAB_SIZE, END_OF_TEXT, trainByteLevelBpe } from './bpe-trainer.js';
import { CHATML_TEMPLATE } from './chat-template.js';
import { llamaConfigToJson } from './config.js';
import { Prng } from '../random/prng.js';
import { presetConfig, type PresetName } from './presets.js';
import { SINGLE_FILE_NAME, writeSafetensors, type TensorToWrite } from './safetensors.js';
import { isStorageDtype, type StorageDtype } from './tensor-read.js';
import type { LlamaConfig } from './types.js';
import { checkpointTensorSpecs } from './weights.js';

export interface GenModelOptions {
  outDir: string;
  /** Default: tiny. */
  preset?: PresetName;
  /** Unsigned 32-bit seed; default 0. */
  seed?: number;
  /** On-disk dtype; default: the preset's (float32 for tiny, bfloat16 for small). */
  dtype?: StorageDtype;
}

function randomCheckpointTensors(cfg: LlamaConfig, seed: number): TensorToWrite[] {
  return checkpointTensorSpecs(cfg).map(({ name, shape }) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 1) data.fill(1);
    else new Prng(seed, name).fillNormal(data, 1 / Math.sqrt(shape[1]));
    return { name, shape, data };
  });
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

function writeModelFiles(dir: string, cfg: LlamaConfig, dtype: StorageDtype, seed: number): void {
  writeJson(join(dir, 'config.json'), llamaConfigToJson(cfg));
  writeSafetensors(join(dir, SINGLE_FILE_NAME), randomCheckpointTensors(cfg, seed), dtype);
  writeJson(join(dir, 'tokenizer.json'), trainByteLevelBpe({ numMerges: cfg.vocabSize - BPE_BASE_VOCAB_SIZE, vocabSize: cfg.vocabSize }));
  writeJson(join(dir, 'tokenizer_config.json'), {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: END_OF_TEXT,
    eos_token: END_OF_TEXT,
    pad_token: END_OF_TEXT,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: cfg.maxPositionEmbeddings,
    chat_template: CHATML_TEMPLATE,
  });
  writeJson(join(dir, 'generation_config.json'), { bos_token_id: cfg.bosTokenId, eos_token_id: cfg.eosTokenIds });
}

/** Writes a random-weight model directory at `outDir` (which must not exist or be empty); returns `outDir`. */
export function genModel(options: GenModelOptions): string {
  const { outDir, preset = 'tiny', seed = 0 } = options;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`genModel: seed must be an integer in [0, 2^32) (got ${seed})`);
  const cfg = presetConfig(preset);
  const dtype = options.dtype ?? cfg.torchDtype;
  if (!isStorageDtype(dtype)) throw new Error(`genModel: dtype must be float32, float16 or bfloat16 (got ${dtype})`);
  cfg.torchDtype = dtype;
  if (existsSync(outDir) && readdirSync(outDir).length > 0) throw new Error(`genModel: ${outDir} already exists and is not empty`);

  mkdirSync(dirname(outDir), { recursive: true });
  const tempDir = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tempDir);
  try {
    writeModelFiles(tempDir, cfg, dtype, seed);
    renameSync(tempDir, outDir);
  } catch (err) {
    rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
  return outDir;
}
