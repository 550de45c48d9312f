import { totalmem } from 'node:os';
import { bytesPerToken, type KvLayout } from '../../src/kv/layout.js';
import type { EngineKind } from '../../src/node/options.js';

/** Reference engine default: 256 MiB of KV, at most 65,536 tokens, at least one context. */
const REFERENCE_POOL_BYTES = 256 * 1024 * 1024;
const REFERENCE_MAX_TOKENS = 65536;
/** Synthetic engine default: 16,384 tokens (four 4k-token requests), at most 2 GiB of KV. */
const SYNTHETIC_POOL_BYTES = 2 * 1024 * 1024 * 1024;
const SYNTHETIC_MAX_TOKENS = 16384;
/**
 * A pool in WASM memory (the reference engine's wasm kernel) shares the wasm32 limit of 4 GiB with
 * the kernel's scratch; 3 GiB leaves it a quarter.
 */
export const WASM_POOL_MAX_BYTES = 3 * 1024 * 1024 * 1024;

/** What sizes the pool: the flags, and for `--mem-fraction-static` the memory it is a fraction of. */
export interface PoolSizing {
  contextLength: number;
  engine: EngineKind;
  /** `--max-total-tokens`. */
  maxTotalTokens: number | null;
  /** `--mem-fraction-static`, with the host's memory and the bytes of weights held in it. */
  memory: { fraction: number; hostBytes: number; weightBytes: number } | null;
  /** Bytes the pool's memory can hold at most (WASM memory), or null. */
  maxPoolBytes: number | null;
}

/** The pool in tokens, and a note for the log when a bound cut it. */
export interface PoolSize {
  pages: number;
  note: string | null;
}

/**
 * Pages in the KV pool. `--max-total-tokens` alone sets it. `--mem-fraction-static F` sizes it as
 * SGLang does on a GPU, with this host's memory in the GPU's place (pd-node's engines run in host
 * memory): F of the memory holds the weights and the pool, so the pool gets F x memory - weights
 * (the synthetic engine holds no weights). With both, the smaller wins (SGLang's rule). Otherwise a
 * default per engine: the reference engine's pool always holds one full context, so any request the
 * model accepts fits alone; a synthetic shape's context (128k tokens of 128 KiB for Llama-3.1-8B =
 * 16 GiB) would not fit a host, so its default is a few requests' worth; longer requests are refused
 * naming the flag. Throws an Error naming `--mem-fraction-static` when F leaves nothing for the pool.
 */
export function poolSize(layout: KvLayout, s: PoolSizing): PoolSize {
  const perToken = bytesPerToken(layout);
  let tokens: number;
  let note: string | null = null;
  if (s.memory !== null) {
    const { fraction, hostBytes, weightBytes } = s.memory;
    const poolBytes = Math.floor(fraction * hostBytes) - weightBytes;
    const mib = (b: number): string => `${Math.round(b / 2 ** 20)} MiB`;
    if (poolBytes < perToken * layout.pageSize) {
      throw new Error(`--mem-fraction-static ${fraction} leaves no room for the KV cache: ${fraction} x ${mib(hostBytes)} of host memory = ${mib(fraction * hostBytes)}, and the weights take ${mib(weightBytes)}`);
    }
    tokens = Math.floor(poolBytes / perToken);
    if (s.maxTotalTokens !== null && s.maxTotalTokens < tokens) tokens = s.maxTotalTokens;
    else if (s.maxTotalTokens !== null && s.maxTotalTokens > tokens) note = `--max-total-tokens ${s.maxTotalTokens} is more than --mem-fraction-static ${fraction} leaves (${tokens} tokens); using ${tokens}`;
  } else {
    tokens =
      s.maxTotalTokens ??
      (s.engine === 'synthetic'
        ? Math.min(SYNTHETIC_MAX_TOKENS, Math.floor(SYNTHETIC_POOL_BYTES / perToken))
        : Math.max(s.contextLength, Math.min(REFERENCE_MAX_TOKENS, Math.floor(REFERENCE_POOL_BYTES / perToken))));
  }
  if (s.maxPoolBytes !== null && tokens * perToken > s.maxPoolBytes) {
    const capped = Math.floor(s.maxPoolBytes / perToken);
    note = `the KV pool is capped at ${capped} tokens (${Math.round(s.maxPoolBytes / 2 ** 20)} MiB): it lives in WASM memory (wasm32: 4 GiB with the kernel's scratch); --kernel js has no such bound`;
    tokens = capped;
  }
  return { pages: Math.ceil(tokens / layout.pageSize), note };
}

/** Bytes of every typed array reachable from `weights`, each array counted once (tied embeddings share one). */
export function heldBytes(weights: object): number {
  const seen = new Set<ArrayBufferView>();
  let bytes = 0;
  const visit = (v: unknown): void => {
    if (ArrayBuffer.isView(v)) {
      if (!seen.has(v)) bytes += v.byteLength;
      seen.add(v);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(visit);
  };
  visit(weights);
  return bytes;
}

/** The memory `--mem-fraction-static` is a fraction of: the host's, or the process's cgroup limit when lower. */
export function hostMemoryBytes(): number {
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 && limit < totalmem() ? limit : totalmem();
}
