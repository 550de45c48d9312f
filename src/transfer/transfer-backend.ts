/**
 * What a transfer backend is to the rest of pd-node: one descriptor, exported by the backend's folder
 * (src/transfer/<name>/descriptor.ts) and listed once in backends.ts. The CLI, the control plane,
 * the scheduler worker, the transfer actor and pd-bench read everything backend-specific from it
 * and carry a backend's settings (`TransferConfig`) and endpoints (`KvEndpoint`) without looking in.
 *
 * Decisions:
 * - Settings are plain data (structured-cloneable): they cross to the scheduler and transfer
 *   workers. A backend's flags turn raw values into settings, and the backend alone reads them
 *   (`createManager`).
 * - A flag of a backend other than the selected one is validated and then ignored, as before
 *   descriptors: SGLang command lines pass `--disaggregation-ib-device` whatever the backend.
 * - Endpoints are checked strictly, once, where they arrive from a peer (the control plane's
 *   kv_request); managers then only check the backend name of what they are handed.
 * - `createPool` exists only for a backend that needs the decode pool in a place of its own (shm: a
 *   shared-memory object other processes map); otherwise the pool lives where the engine keeps it
 *   (a SharedArrayBuffer or WASM memory): the transfer actor shares it, verbs registers it.
 * - `createManager` and `unavailable` are async so that a backend can import its manager and native
 *   bindings only when they are needed (verbs does): the CLI, the control plane and pd-bench import
 *   the table without loading what only the transfer actor runs.
 * - Methods, not function-valued properties: a descriptor with its own settings and endpoint types
 *   then fits the table's `TransferBackend` (method parameters are checked bivariantly).
 */
import type { ShmRegion } from '../../native/shm-region.js';
import type { KvLayout } from '../kv/layout.js';
import type { KvPool } from '../kv/pool.js';
import type { EndpointFields } from './endpoint-fields.js';
import type { KvEndpoint, KvManager } from './kv-transfer.js';

/** The selected backend and the settings its flags produced; opaque outside the backend. */
export interface TransferConfig {
  readonly backend: string;
  readonly settings: unknown;
}

/** A flag a backend owns (declared on every node command; it applies when its backend is selected). */
export interface BackendFlag<S> {
  /** Without the leading dashes. */
  readonly name: string;
  readonly describe: string;
  /** What --help shows as the default. */
  readonly defaultText: string;
  /** `raw` onto `settings` (a new object); throws an Error whose message starts with `flag` when the value is bad. */
  apply(settings: S, raw: string, flag: string): S;
}

/** What the node gives every backend's manager, whatever its settings. */
export interface ManagerEnv {
  /** Bound on connect (handshake included). */
  connectTimeoutMs: number;
  /** Told why the receiver refused a sender; once per peer. */
  onRefuse: (reason: string) => void;
  /** deriveKey(clusterSecret, 'tcp-kv'): links that authenticate prove they hold it. */
  linkKey: Buffer;
  /** Told when the backend cannot work as configured (a setting the host refused); each once. */
  warn: (message: string) => void;
}

/** A decode pool the backend placed; the caller unlinks `region` at shutdown (null: nothing to undo). */
export interface PlacedPool {
  pool: KvPool;
  region: ShmRegion | null;
}

/**
 * How pd-bench transfer compares the backend with plain code on the same bytes in the same run:
 * `baseline` is run per row (a Buffer.copy within the sender, or a plain single-stream socket
 * between the two processes); `reference` is the fastest plain way the machine has to move the same
 * bytes: a standard tool run when it is installed (iperf3 once, ib_write_bw per size), or libc's
 * memcpy of the same runs between the baseline's two buffers, in the same rounds (shm).
 */
export interface BenchBaseline {
  readonly baseline: 'Buffer.copy' | 'plain socket';
  readonly reference: 'iperf3' | 'ib_write_bw' | 'memcpy' | null;
  /** Maps the receiver's pool into the benchmark (shm), so the copy baseline also runs into the memory the backend writes. */
  mapPeerPool?(endpoint: KvEndpoint): ShmRegion;
}

export interface TransferBackend<S = unknown, E extends KvEndpoint = KvEndpoint> {
  readonly name: string;
  /** For --help: what the backend needs from the hosts ("both nodes on one host"). */
  readonly needs: string;
  /** The settings when none of its flags is given. */
  readonly defaults: S;
  readonly flags: readonly BackendFlag<S>[];
  /** A peer's endpoint of this backend, checked field by field (fresh object, known fields only); throws an EndpointError naming the field under `path`. */
  parseEndpoint(fields: EndpointFields, path: string): E;
  /** The endpoint as peers must see it when the node publishes the address `host` (src/net/published-host.ts). */
  publish(endpoint: E, host: string): E;
  /** Decode: builds the pool where this backend needs it; absent: the engine's pool serves. */
  createPool?(layout: KvLayout, numPages: number): PlacedPool;
  /** The backend's KvManager (runs inside the transfer actor's worker). */
  createManager(settings: S, env: ManagerEnv): Promise<KvManager>;
  /** Why the backend cannot run on this host, or null (pd-bench `--backend auto` skips it then). */
  unavailable(): Promise<string | null>;
  readonly bench: BenchBaseline;
}
