/**
 * Which files hold a model (`--load-format`, SGLang's flag): a Hugging Face directory of safetensors,
 * or one GGUF file. Decisions:
 * - `auto` (the default) reads a directory's safetensors, else its one .gguf file, and a file given as
 *   --model-path as GGUF; `safetensors` and `gguf` insist. SGLang's other formats (pt, npcache, dummy,
 *   sharded_state, bitsandbytes, layered, ...) are refused by the flag, naming these.
 * - A directory with several .gguf files is ambiguous: the user names the file.
 * - The loader is told a GGUF model by its path being a file; the tokenizer is then looked for beside it
 *   (`defaultTokenizerDir`), unless --tokenizer-path says where.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { INDEX_FILE_NAME, SINGLE_FILE_NAME } from './safetensors.js';

export const LOAD_FORMATS = ['auto', 'safetensors', 'gguf'] as const;
export type LoadFormat = (typeof LOAD_FORMATS)[number];

/** The path the loader reads: the model directory (safetensors) or the GGUF file. `path` exists. */
export function resolveWeightsPath(path: string, format: LoadFormat): string {
  const where = `--model-path ${path}`;
  if (isGgufPath(path)) {
    if (format === 'safetensors') throw new Error(`${where}: a file; --load-format safetensors reads a model directory (config.json, *.safetensors, tokenizer.json)`);
    return path;
  }
  if (format === 'safetensors') return path;
  const ggufs = readdirSync(path).filter((f) => f.endsWith('.gguf')).sort();
  if (format === 'auto' && (existsSync(join(path, SINGLE_FILE_NAME)) || existsSync(join(path, INDEX_FILE_NAME)) || ggufs.length === 0)) return path;
  if (ggufs.length === 0) throw new Error(`${where}: no .gguf file in the directory (--load-format gguf)`);
  if (ggufs.length > 1) throw new Error(`${where}: ${ggufs.length} .gguf files (${ggufs.join(', ')}); give --model-path the one to serve`);
  return join(path, ggufs[0]);
}

/** Whether the model at `weightsPath` (from resolveWeightsPath) is a GGUF file: a file, where safetensors are a directory. */
export function isGgufPath(weightsPath: string): boolean {
  return statSync(weightsPath).isFile();
}

/** Where the tokenizer is when --tokenizer-path is not given: the model directory, or the GGUF file's. */
export function defaultTokenizerDir(weightsPath: string): string {
  return isGgufPath(weightsPath) ? dirname(weightsPath) : weightsPath;
}
