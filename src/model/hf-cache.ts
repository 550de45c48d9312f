/**
 * `--model-path` as SGLang takes it: a local directory, or a Hugging Face hub id (`org/name`) that
 * is looked up in the local Hugging Face cache, offline, where transformers and huggingface_hub
 * (`huggingface-cli download`) put it. Decisions:
 * - An existing path is a local directory and wins, as in transformers (a relative `org/name`
 *   directory shadows the hub id).
 * - The cache is `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
 *   `~/.cache/huggingface/hub` (huggingface_hub's order; the legacy `$HUGGINGFACE_HUB_CACHE` comes
 *   after `$HF_HUB_CACHE`). A model lives in `models--{org}--{name}`: `refs/{revision}` holds the
 *   commit hash of `snapshots/{hash}/`; a 40-hex-digit revision names the snapshot directly.
 *   The revision defaults to `main`.
 * - A snapshot counts once it holds what was asked for: a model is config.json (safetensors) or a
 *   .gguf file (a GGUF-only repo has no config.json), a tokenizer its tokenizer.json. Anything
 *   else is an interrupted or partial download, and the error says what is missing.
 * - pd-node never downloads: a miss is an error that says where it looked, the command that fetches
 *   the model, and that the synthetic engine runs a model's shape without weights.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** huggingface_hub's repo id rule: `[org/]name`, word characters, `-` and `.`, no `--` or `..`, at most 96 characters. */
const REPO_ID = /^(?:[\w.-]+\/)?[\w.-]+$/;
const MAX_REPO_ID_LENGTH = 96;
const COMMIT_HASH = /^[0-9a-f]{40}$/;
const DEFAULT_REVISION = 'main';

export type Env = Readonly<Record<string, string | undefined>>;

export function isHubId(path: string): boolean {
  return path.length <= MAX_REPO_ID_LENGTH && REPO_ID.test(path) && !path.includes('--') && !path.includes('..') && !path.startsWith('.');
}

function expandHome(path: string, home: string): string {
  return path === '~' || path.startsWith('~/') ? join(home, path.slice(1)) : path;
}

/** The hub cache directory and which setting chose it (for error messages). */
export function hfHubCache(env: Env = process.env, home: string = homedir()): { dir: string; from: string } {
  if (env.HF_HUB_CACHE) return { dir: expandHome(env.HF_HUB_CACHE, home), from: '$HF_HUB_CACHE' };
  if (env.HUGGINGFACE_HUB_CACHE) return { dir: expandHome(env.HUGGINGFACE_HUB_CACHE, home), from: '$HUGGINGFACE_HUB_CACHE' };
  if (env.HF_HOME) return { dir: join(expandHome(env.HF_HOME, home), 'hub'), from: '$HF_HOME/hub' };
  if (env.XDG_CACHE_HOME) return { dir: join(expandHome(env.XDG_CACHE_HOME, home), 'huggingface', 'hub'), from: '$XDG_CACHE_HOME/huggingface/hub' };
  return { dir: join(home, '.cache', 'huggingface', 'hub'), from: '~/.cache/huggingface/hub (HF_HUB_CACHE and HF_HOME unset)' };
}

/** `models--{org}--{name}`: the cache folder of a model repo. */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

/** What a cached snapshot must hold to be used; `what` names it in the error when it does not. */
export interface SnapshotNeeds {
  what: string;
  holds(snapshot: string): boolean;
}

export const MODEL_SNAPSHOT: SnapshotNeeds = {
  what: 'config.json or a .gguf file',
  holds: (snapshot) => existsSync(join(snapshot, 'config.json')) || readdirSync(snapshot).some((f) => f.endsWith('.gguf')),
};

export const TOKENIZER_SNAPSHOT: SnapshotNeeds = {
  what: 'tokenizer.json',
  holds: (snapshot) => existsSync(join(snapshot, 'tokenizer.json')),
};

/**
 * The directory `path` names: itself when it exists, else the cached snapshot of hub id `path` at
 * `revision`, when it holds what `needs` says. `flag` names the option in errors (`--model-path`,
 * `--tokenizer-path`).
 */
export function resolveModelDir(path: string, revision: string | null, flag: string, needs: SnapshotNeeds, env: Env = process.env, home: string = homedir()): string {
  if (existsSync(path)) return path;
  if (!isHubId(path)) throw new Error(`${flag} ${path}: no such directory (and not a Hugging Face hub id like org/name)`);
  const cache = hfHubCache(env, home);
  const repo = join(cache.dir, repoFolderName(path));
  const rev = revision ?? DEFAULT_REVISION;
  let hash = rev;
  let looked = join(repo, 'snapshots', rev);
  if (!COMMIT_HASH.test(rev)) {
    looked = join(repo, 'refs', rev);
    hash = existsSync(looked) ? readFileSync(looked, 'utf8').trim() : '';
  }
  const snapshot = join(repo, 'snapshots', hash);
  if (hash !== '' && existsSync(snapshot) && needs.holds(snapshot)) return snapshot;
  const found = hash === '' ? `no ${looked}` : `the snapshot ${snapshot} has no ${needs.what} (an interrupted download?)`;
  throw new Error(
    `${flag} ${path}: not a local directory, and the Hugging Face cache has no copy of it at revision ${rev}: ${found} ` +
      `(the cache is ${cache.dir}, from ${cache.from}). pd-node never downloads; fetch the model once with ` +
      `\`huggingface-cli download ${path}${revision === null ? '' : ` --revision ${revision}`}\` (or point HF_HUB_CACHE / HF_HOME at a cache that has it), ` +
      `or give ${flag} a local model directory. To run a model's shape without its weights: --engine synthetic --model-shape SHAPE, without --model-path (pd-node --help lists the shapes).`,
  );
}
