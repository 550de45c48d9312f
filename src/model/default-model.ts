/**
 * The built-in models: generated once into a cache directory, reused afterwards.
 *
 * Decisions:
 * - Cache root: $PD_NODE_CACHE_DIR, else ~/.cache/pd-node. Each model lives in
 *   `models/<preset>-v<MODEL_FORMAT_VERSION>`; bump the version whenever generation changes (weights
 *   init, tokenizer corpus or trainer, file layout) so stale caches are never reused.
 * - A fixed seed (0), so every machine's default model is the same model.
 * - Racing processes each generate into their own temp dir and rename it into place (gen-model.ts);
 *   the rename is atomic, so a complete directory either exists or not. A loser whose rename fails
 *   finds the winner's model there and uses it.
 */
import { access } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { genModel } from './gen-model.js';
import type { PresetName } from './presets.js';

export const MODEL_FORMAT_VERSION = 2;
const DEFAULT_SEED = 0;

export function modelCacheDir(): string {
  return process.env.PD_NODE_CACHE_DIR || join(homedir(), '.cache', 'pd-node');
}

async function isComplete(dir: string): Promise<boolean> {
  try {
    await access(join(dir, 'config.json'));
    return true;
  } catch {
    return false;
  }
}

/** Directory of the cached random-weight model of `preset`, generating it on first use. */
export async function ensurePresetModel(preset: PresetName): Promise<string> {
  const dir = join(modelCacheDir(), 'models', `${preset}-v${MODEL_FORMAT_VERSION}`);
  if (await isComplete(dir)) return dir;
  try {
    return genModel({ outDir: dir, preset, seed: DEFAULT_SEED });
  } catch (err) {
    if (await isComplete(dir)) return dir;
    throw err;
  }
}

/** Directory of the default model (`tiny`), generating it on first use. */
export function ensureDefaultModel(): Promise<string> {
  return ensurePresetModel('tiny');
}
