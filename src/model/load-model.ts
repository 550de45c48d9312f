/**
 * Loads a model directory (`--model-path`): config, weights and tokenizer, with errors a user can act on.
 *
 * Decisions:
 * - Every required file is checked for before anything is parsed, and the messages name the flag and the
 *   directory ("--model-path X: no config.json"), since that is what the user typed.
 * - Cheap files first (config, tokenizer), weights last, so a bad config fails in milliseconds, not after
 *   reading hundreds of megabytes.
 * - A tokenizer with more ids than the config's vocab_size is rejected: it could produce ids the
 *   embedding table has no row for. Fewer is normal (vocab padded for the GPU kernels).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadLlamaConfig } from './config.js';
import { INDEX_FILE_NAME, SINGLE_FILE_NAME, type ReadTensorsOptions } from './safetensors.js';
import { HfTokenizer } from './tokenizer.js';
import type { LlamaConfig, ModelWeights } from './types.js';
import { loadModelWeights } from './weights.js';

export interface LoadedModel {
  config: LlamaConfig;
  weights: ModelWeights;
  tokenizer: HfTokenizer;
}

function checkModelDir(dir: string): void {
  const where = `--model-path ${dir}`;
  if (!existsSync(dir)) throw new Error(`${where}: no such directory`);
  if (!statSync(dir).isDirectory()) throw new Error(`${where}: not a directory`);
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`${where}: no config.json`);
  if (!existsSync(join(dir, SINGLE_FILE_NAME)) && !existsSync(join(dir, INDEX_FILE_NAME))) {
    throw new Error(`${where}: no ${SINGLE_FILE_NAME} or ${INDEX_FILE_NAME}`);
  }
  if (!existsSync(join(dir, 'tokenizer.json'))) throw new Error(`${where}: no tokenizer.json`);
}

export function loadModel(dir: string, options: ReadTensorsOptions = {}): LoadedModel {
  checkModelDir(dir);
  let config: LlamaConfig;
  try {
    config = loadLlamaConfig(dir);
  } catch (err) {
    throw new Error(`--model-path ${dir}: ${(err as Error).message}`);
  }
  const tokenizer = HfTokenizer.fromDir(dir);
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new Error(`--model-path ${dir}: tokenizer.json has ${tokenizer.vocabSize} token ids but config.json vocab_size is ${config.vocabSize}`);
  }
  return { config, weights: loadModelWeights(dir, config, options), tokenizer };
}
