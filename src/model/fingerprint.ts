/**
 * Model fingerprint for the PD handshake: both nodes must run the same weights and tokenizer, or
 * decode would continue from KV it cannot interpret (silently wrong text). Hashes config.json,
 * tokenizer.json and, per weight file, its name, size and bytes sampled at its start, middle and
 * end (reading whole multi-GB files at start-up would cost seconds; a different seed or checkpoint
 * changes the sampled bytes).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SAMPLE_BYTES = 64 * 1024;

export function modelFingerprint(dir: string): string {
  const h = createHash('sha256');
  for (const name of ['config.json', 'tokenizer.json']) {
    const file = join(dir, name);
    h.update(name).update(existsSync(file) ? readFileSync(file) : Buffer.alloc(0));
  }
  const weights = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  const sample = Buffer.alloc(SAMPLE_BYTES);
  for (const name of weights) {
    const file = join(dir, name);
    const size = statSync(file).size;
    h.update(`${name}:${size}`);
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
