/**
 * A KV endpoint as peers must see it. A receiver reports the host it listens on, which may be a
 * wildcard (0.0.0.0, ::) or an address behind NAT; the node publishes its chosen address instead
 * (src/net/published-host.ts), the same one as its HTTP URL and bootstrap socket. Each backend says
 * how (its descriptor's `publish`): shm endpoints name a shared-memory segment, not a host, and are
 * published as they are.
 */
import { transferBackend } from './backends.js';
import type { KvEndpoint } from './kv-transfer.js';

export function publishedEndpoint(endpoint: KvEndpoint, host: string): KvEndpoint {
  return transferBackend(endpoint.backend).publish(endpoint, host);
}
