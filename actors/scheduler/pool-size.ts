import { bytesPerToken, type KvLayout } from '../../src/kv/layout.js';

/** Default pool budget when --max-total-tokens is not given. */
const DEFAULT_POOL_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_TOKENS = 65536;

/**
 * Pages in the KV pool. Without an explicit size: 256 MiB of KV (at most 65,536 tokens), but never
 * less than one full context, so any request the model accepts fits alone.
 */
export function poolPages(layout: KvLayout, contextLength: number, maxTotalTokens: number | null): number {
  const tokens = maxTotalTokens ?? Math.max(contextLength, Math.min(DEFAULT_MAX_TOKENS, Math.floor(DEFAULT_POOL_BYTES / bytesPerToken(layout))));
  return Math.ceil(tokens / layout.pageSize);
}
