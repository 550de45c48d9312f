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
