/**
 * KV transfer interfaces (the KVManager / KVSender / KVReceiver roles of SGLang's disaggregation
 * code). A decode node's receiver exposes its pool for one-sided writes; a prefill node's sender
 * writes runs of its own pages straight into the decode node's pages. One folder per backend, each
 * with its descriptor (transfer-backend.ts), listed in backends.ts.
 */

/**
 * What a receiver publishes so that a sender can write into its pool. `backend` names the descriptor
 * that parses and reads it (backends.ts); the other fields are the backend's own (its folder's
 * endpoint type) and opaque to everything else.
 */
export interface KvEndpoint {
  readonly backend: string;
}

/** `count` adjacent pages from local page `src` to remote page `dst`. */
export interface PageRun {
  src: number;
  dst: number;
  count: number;
}

/** A pool as the transfer layer sees it: bytes, page size, page count (any thread may hold a view). */
export interface PoolRegion {
  buffer: ArrayBuffer | SharedArrayBuffer;
  pageBytes: number;
  numPages: number;
}

export interface WriteResult {
  bytes: number;
  runs: number;
  ms: number;
}

/** Prefill side: one connection to one peer's pool. */
export interface KvSender {
  /**
   * Writes the runs from the local pool into the peer's pool. Resolves once every byte is in the
   * peer's pool (so a completion notice sent afterwards never overtakes the data); rejects on a
   * broken link, a bad run, a write the receiver refused (outside the room's grant, or the room released;
   * only that write fails, not the link), or `timeoutMs`.
   * `room`: the bootstrap room the runs belong to (the receiver checks its grant).
   * A sender that finishes a write within the call (shm copying alone) returns its result, or
   * throws, at once: the transfer actor can then answer it before it starts the next request.
   */
  write(runs: readonly PageRun[], timeoutMs: number, room: string): WriteResult | Promise<WriteResult>;
  close(): Promise<void>;
}

/**
 * Decode side: accepts writes into the local pool until closed. The invariant every backend keeps
 * with its caller: no byte of a room lands in pages that another request owns. The caller grants a
 * room's pages before it sends the page list, and reuses them only once `release` or `cutWriter`
 * resolved true.
 */
export interface KvReceiver {
  readonly endpoint: KvEndpoint;
  /** Lets `writer` write `room` into exactly `pageIds` (called before decode sends the page list). */
  grant(room: string, writer: string, pageIds: readonly number[]): void;
  /**
   * Ends the room's grant. `confirmed`: the writer said the room is over (kv_done or its room_failed),
   * so nothing of it is in flight. `unconfirmed`: a local abort or timeout. Resolves true once no byte
   * of the room can land any more (tcp: later writes of the room are refused, a write of it under way
   * has the rest of its bytes dropped and is refused; either way that write alone fails, the link
   * stays), false when the backend cannot promise that yet (verbs, shm:
   * one-sided writes the receiver cannot stop without cutting the writer): the caller keeps the
   * pages quarantined until the writer confirms or `cutWriter` returns true.
   */
  release(room: string, how: 'confirmed' | 'unconfirmed'): Promise<boolean>;
  /**
   * The writer is declared lost: resolves true once none of its bytes can land any more (tcp: its
   * connections destroyed; verbs: its queue pairs moved to the error state; shm: its process is gone,
   * a stopped process is not), false if that cannot be promised yet (shm with the writer alive).
   */
  cutWriter(writer: string): Promise<boolean>;
  close(): Promise<void>;
}

/** One backend: makes receivers for local pools and senders to remote endpoints. */
export interface KvManager {
  readonly backend: string;
  /** Listens on `host`; the endpoint names `host` as is (a node publishes its own address: published-endpoint.ts). */
  listen(pool: PoolRegion, host: string): Promise<KvReceiver>;
  /** `writer`: the token the decode node gave this prefill node in its page lists; the link presents it. */
  connect(peer: KvEndpoint, pool: PoolRegion, writer: string): Promise<KvSender>;
  /** Frees what the backend holds for the process (verbs: open devices, pollers), after its receivers and senders closed. */
  close?(): Promise<void>;
}

/**
 * Page ids -> runs: position i of `src` goes to position i of `dst`; consecutive positions that are
 * adjacent on both sides merge into one run (one write instead of one per page).
 */
export function coalescePages(src: ArrayLike<number>, dst: ArrayLike<number>): PageRun[] {
  if (src.length !== dst.length) throw new Error(`coalescePages: ${src.length} source pages vs ${dst.length} destination pages`);
  const runs: PageRun[] = [];
  for (let i = 0; i < src.length; i++) {
    const last = runs[runs.length - 1];
    if (last && src[i] === last.src + last.count && dst[i] === last.dst + last.count) last.count++;
    else runs.push({ src: src[i], dst: dst[i], count: 1 });
  }
  return runs;
}
