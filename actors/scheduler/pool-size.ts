import { totalmem } from 'node:os';
import { bytesPerToken, type KvLayout } from '../../src/kv/layout.js';

/** What sizes the pool: the flags, the engine's default, and for `--mem-fraction-static` the memory it is a fraction of. */
export interface PoolSizing {
  /** The engine's default pool in tokens (its descriptor's `poolDefault`), used when no flag sizes it. */
  defaultTokens: number;
  /** `--max-total-tokens`. */
  maxTotalTokens: number | null;
  /** `--mem-fraction-static`, with the host's memory and the bytes of weights held in it. */
  memory: { fraction: number; hostBytes: number; weightBytes: number } | null;
  /** Bytes the pool's memory can hold at most (an engine's own pool memory, e.g. WASM), or null. */
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
 * (the synthetic engine holds no weights). With both, the smaller wins (SGLang's rule). Otherwise the
 * engine's default. Throws an Error naming `--mem-fraction-static` when F leaves nothing for the pool.
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
    tokens = s.maxTotalTokens ?? s.defaultTokens;
  }
  if (s.maxPoolBytes !== null && tokens * perToken > s.maxPoolBytes) {
    const capped = Math.floor(s.maxPoolBytes / perToken);
    note = `the KV pool is capped at ${capped} tokens (${Math.round(s.maxPoolBytes / 2 ** 20)} MiB): the engine keeps it in memory of that size (the reference engine's WASM kernel: wasm32 has 4 GiB with the kernel's scratch; --kernel js has no such bound)`;
    tokens = capped;
  }
  return { pages: Math.ceil(tokens / layout.pageSize), note };
}

/** The memory `--mem-fraction-static` is a fraction of: the host's, or the process's cgroup limit when lower. */
export function hostMemoryBytes(): number {
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 && limit < totalmem() ? limit : totalmem();
}
