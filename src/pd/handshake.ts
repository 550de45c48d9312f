import type { KvLayoutInfo, ModelIdentity } from '../registry/protocol.js';
import type { KvEndpoint } from '../transfer/kv-transfer.js';

/**
 * Why a decode node's page list cannot be served by this prefill node, or null. The two sides must
 * run the same model (weights and tokenizer), the same KV layout (page size, dtype, entries) and
 * the same transfer backend; anything else would move bytes that decode reads as the wrong thing.
 */
export function handshakeProblem(
  local: { model: ModelIdentity; kvLayout: KvLayoutInfo; backend: string },
  peer: { model: ModelIdentity; kvLayout: KvLayoutInfo; endpoint: KvEndpoint },
): string | null {
  if (peer.model.fingerprint !== local.model.fingerprint) {
    return `model mismatch: decode node serves ${peer.model.servedModelName} (fingerprint ${peer.model.fingerprint.slice(0, 12)}), prefill node serves ${local.model.servedModelName} (fingerprint ${local.model.fingerprint.slice(0, 12)})`;
  }
  const a = local.kvLayout;
  const b = peer.kvLayout;
  if (a.pageSize !== b.pageSize) return `page size mismatch: decode node uses --page-size ${b.pageSize}, prefill node ${a.pageSize}`;
  if (a.dtype !== b.dtype || a.numLayers !== b.numLayers || a.entriesPerToken !== b.entriesPerToken) {
    return `KV layout mismatch: decode node ${JSON.stringify(b)}, prefill node ${JSON.stringify(a)}`;
  }
  if (peer.endpoint.backend !== local.backend) {
    return `transfer backend mismatch: decode node offers ${peer.endpoint.backend}, prefill node uses ${local.backend} (--disaggregation-transfer-backend)`;
  }
  return null;
}
