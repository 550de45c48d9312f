import { bytesPerToken, type KvLayout } from '../../src/kv/layout.js';
import type { EngineKind } from './scheduler-options.js';

/** Reference engine default: 256 MiB of KV, at most 65,536 tokens, at least one context. */
const REFERENCE_POOL_BYTES = 256 * 1024 * 1024;
const REFERENCE_MAX_TOKENS = 65536;
/** Synthetic engine default: 16,384 tokens (four 4k-token requests), at most 2 GiB of KV. */
const SYNTHETIC_POOL_BYTES = 2 * 1024 * 1024 * 1024;
const SYNTHETIC_MAX_TOKENS = 16384;

/**
 * Pages in the KV pool: `--max-total-tokens` when given, else a default per engine. The reference
 * engine's pool always holds one full context, so any request the model accepts fits alone. A
 * synthetic shape's context (128k tokens of 128 KiB for Llama-3.1-8B = 16 GiB) would not fit a
 * host, so its default is a few requests' worth; longer requests are refused naming the flag.
 */
export function poolPages(layout: KvLayout, contextLength: number, maxTotalTokens: number | null, engine: EngineKind): number {
  const perToken = bytesPerToken(layout);
  const tokens =
    maxTotalTokens ??
    (engine === 'synthetic'
      ? Math.min(SYNTHETIC_MAX_TOKENS, Math.floor(SYNTHETIC_POOL_BYTES / perToken))
      : Math.max(contextLength, Math.min(REFERENCE_MAX_TOKENS, Math.floor(REFERENCE_POOL_BYTES / perToken))));
  return Math.ceil(tokens / layout.pageSize);
}
