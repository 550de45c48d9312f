/**
 * Loads a model (`--model-path`): config, weights and tokenizer, with errors a user can act on. The
 * path is a Hugging Face directory (config.json, safetensors) or a GGUF file (model-files.ts says
 * which); the tokenizer is tokenizer.json in `tokenizerDir` (--tokenizer-path), by default the model
 * directory or the GGUF file's.
 *
 * Decisions:
 * - Every required file is checked for before anything is parsed, and the messages name the flag and the
 *   path ("--model-path X: no config.json"), since that is what the user typed.
 * - Cheap files first (config, tokenizer), weights last, so a bad config fails in milliseconds, not after
 *   reading hundreds of megabytes. (A GGUF file's config is its header, read before its weights.)
 * - A tokenizer with more ids than the config's vocab_size is rejected: it could produce ids the
 *   embedding table has no row for. Fewer is normal (vocab padded for the GPU kernels).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadLlamaConfig } from './config.js';
import { GgufModelFile } from './gguf-reader.js';
import { defaultTokenizerDir, isGgufPath } from './model-files.js';
import { INDEX_FILE_NAME, SINGLE_FILE_NAME, type ReadTensorsOptions } from './safetensors.js';
import { HfTokenizer } from './tokenizer.js';
import type { LlamaConfig, ModelWeights } from './types.js';
import { loadModelWeights } from './weights.js';

export interface LoadedModel {
  config: LlamaConfig;
  weights: ModelWeights;
  tokenizer: HfTokenizer;
}

export interface LoadModelOptions extends ReadTensorsOptions {
  /** --tokenizer-path, resolved; default: the model directory, or the GGUF file's. */
  tokenizerDir?: string;
}

function checkModelDir(dir: string): void {
  const where = `--model-path ${dir}`;
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`${where}: no config.json`);
  if (!existsSync(join(dir, SINGLE_FILE_NAME)) && !existsSync(join(dir, INDEX_FILE_NAME))) {
    throw new Error(`${where}: no ${SINGLE_FILE_NAME} or ${INDEX_FILE_NAME} (or give --load-format gguf a .gguf file)`);
  }
}

function loadTokenizer(path: string, gguf: boolean, tokenizerDir: string, given: boolean): HfTokenizer {
  if (existsSync(join(tokenizerDir, 'tokenizer.json'))) return HfTokenizer.fromDir(tokenizerDir);
  if (given) throw new Error(`--tokenizer-path ${tokenizerDir}: no tokenizer.json`);
  if (gguf) {
    throw new Error(`--model-path ${path}: no tokenizer.json beside the GGUF file; give --tokenizer-path the original model's directory (pd-node reads tokenizer.json, not the GGUF vocabulary)`);
  }
  throw new Error(`--model-path ${path}: no tokenizer.json`);
}

export function loadModel(path: string, options: LoadModelOptions = {}): LoadedModel {
  if (!existsSync(path)) throw new Error(`--model-path ${path}: no such file or directory`);
  const gguf = isGgufPath(path);
  if (!gguf) checkModelDir(path);
  const ownDir = defaultTokenizerDir(path);
  const tokenizerDir = options.tokenizerDir ?? ownDir;
  const ownTokenizer = tokenizerDir === ownDir;
  const tokenizer = loadTokenizer(path, gguf, tokenizerDir, !ownTokenizer);
  // The GGUF reader's messages start with the file's path already.
  const where = `--model-path ${gguf ? '' : `${path}: `}`;
  let file: GgufModelFile | null = null;
  let config: LlamaConfig;
  try {
    if (gguf) ({ config } = file = GgufModelFile.open(path));
    else config = loadLlamaConfig(path);
  } catch (err) {
    throw new Error(`${where}${(err as Error).message}`);
  }
  try {
    if (tokenizer.vocabSize > config.vocabSize) {
      const from = ownTokenizer ? 'tokenizer.json' : `--tokenizer-path ${tokenizerDir}: tokenizer.json`;
      throw new Error(`--model-path ${path}: ${from} has ${tokenizer.vocabSize} token ids but ${gguf ? "the GGUF file's" : 'config.json'} vocab_size is ${config.vocabSize}`);
    }
    if (file === null) return { config, weights: loadModelWeights(path, config, options), tokenizer };
    try {
      return { config, weights: file.readWeights(options), tokenizer };
    } catch (err) {
      throw new Error(`${where}${(err as Error).message}`);
    }
  } finally {
    file?.close();
  }
}
