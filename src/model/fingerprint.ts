/**
 * Model fingerprint for the PD handshake: both nodes must run the same weights and tokenizer, or
 * decode would continue from KV it cannot interpret (silently wrong text). Hashes config.json (a
 * GGUF file's config is in its sampled header), the tokenizer.json in use and, per weight file
 * (the safetensors, or the GGUF file), its name, size and bytes sampled at its start, middle and
 * end (reading whole multi-GB files at start-up would cost seconds; a different seed or checkpoint
 * changes the sampled bytes).
 *
 * A synthetic engine's fingerprint hashes its model shape (every field: layers, KV geometry,
 * parameters) and the tokenizer instead, so nodes of different shapes refuse each other, and a
 * synthetic node never matches a reference one. The modelled GPU is not part of it: nodes modelling
 * different GPUs work together, as in a mixed cluster.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isGgufPath } from './model-files.js';

const SAMPLE_BYTES = 64 * 1024;

function hashFiles(h: Hash, dir: string, names: readonly string[]): void {
  for (const name of names) {
    const file = join(dir, name);
    h.update(name).update(existsSync(file) ? readFileSync(file) : Buffer.alloc(0));
  }
}

/** `shape`: the synthetic engine's model shape (plain data); `tokenizerDir`: where its tokenizer.json is. */
export function syntheticFingerprint(shape: object, tokenizerDir: string): string {
  const h = createHash('sha256').update(`synthetic:${JSON.stringify(shape)}`);
  hashFiles(h, tokenizerDir, ['tokenizer.json']);
  return h.digest('hex');
}

/** `path`: the model directory or GGUF file (model-files.ts); `tokenizerDir`: where its tokenizer.json is. */
export function modelFingerprint(path: string, tokenizerDir: string): string {
  const h = createHash('sha256');
  const gguf = isGgufPath(path);
  const dir = gguf ? dirname(path) : path;
  if (!gguf) hashFiles(h, dir, ['config.json']);
  hashFiles(h, tokenizerDir, ['tokenizer.json']);
  const weights = gguf ? [basename(path)] : readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  const sample = Buffer.alloc(SAMPLE_BYTES);
  for (const name of weights) {
    const file = join(dir, name);
    const size = statSync(file).size;
    // A GGUF file's name is the user's (a hub snapshot and a local copy of the same bytes differ):
    // only its bytes count; safetensors shard names are part of the checkpoint.
    h.update(`${gguf ? 'gguf' : name}:${size}`);
    const fd = openSync(file, 'r');
    try {
      for (const at of [0, Math.floor(size / 2), Math.max(0, size - SAMPLE_BYTES)]) {
        const n = readSync(fd, sample, 0, SAMPLE_BYTES, at);
        h.update(sample.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
  }
  return h.digest('hex');
}
