/**
 * Registry protocol (ZeroMQ: the registry is a ROUTER, nodes are DEALERs). Every message is one JSON
 * frame with a protocol version `v`; anything malformed or of another version is logged and dropped
 * (or answered with an error), never fatal.
 */

export const REGISTRY_PROTOCOL_VERSION = 1;

export type RegisteredRole = 'prefill' | 'decode';

/** What identifies a model for the PD handshake: both sides must agree or the request is refused. */
export interface ModelIdentity {
  /** Digest of config.json + the weight files' names and sizes + tokenizer.json. */
  fingerprint: string;
  servedModelName: string;
}

export interface KvLayoutInfo {
  numLayers: number;
  entriesPerToken: number;
  dtype: string;
  pageSize: number;
}

export interface NodeRecord {
  /** Unique per process (role-host-port-random). */
  id: string;
  role: RegisteredRole;
  /** HTTP base URL, e.g. http://127.0.0.1:30000 */
  httpUrl: string;
  /** ZeroMQ address of a prefill node's PD control socket, e.g. tcp://127.0.0.1:8998 (decode: null, it only connects). */
  controlAddr: string | null;
  /** Prefill nodes: the bootstrap port (= the control socket's port), as the router's --prefill URL PORT names it. */
  bootstrapPort: number | null;
  model: ModelIdentity;
  kvLayout: KvLayoutInfo;
}

/**
 * Node -> registry. `seq` pairs a reply with its request. `owner`: a random token (32 lower-case hex
 * digits) the node picks once and sends with every change of its record; the registry lets only
 * the holder of the token that created a live record change it. Never listed in query answers.
 */
export type RegistryRequest =
  | { v: 1; seq: number; type: 'register'; node: NodeRecord; owner: string }
  | { v: 1; seq: number; type: 'heartbeat'; id: string; owner: string }
  | { v: 1; seq: number; type: 'deregister'; id: string; owner: string }
  | { v: 1; seq: number; type: 'query'; role?: RegisteredRole; id?: string };

/** Registry -> node. */
export type RegistryReply =
  | { v: 1; seq: number; type: 'ok' }
  /**
   * `deregistered`: httpUrls whose records were removed by an explicit deregister (a clean
   * shutdown) lately (membership.ts bounds how long and how many), never by expiry. A router drops
   * such a node at once; one that merely expired is only a hint (it may just be cut off from the
   * registry) and stays routable while the router's own /health checks pass. Absent from a registry
   * of before this field: read as empty.
   */
  | { v: 1; seq: number; type: 'nodes'; nodes: NodeRecord[]; epoch: number; deregistered: string[] }
  /**
   * `unknown_node`: a heartbeat for an id the registry no longer knows (the node should register
   * again); `not_owner`: the id belongs to a live record another node created; `url_in_use`: another
   * live record (another owner) holds the httpUrl; `unreachable_address`: an address of the record
   * cannot be reached by the registry's readers (address-policy.ts).
   */
  | { v: 1; seq: number; type: 'error'; code: 'unknown_node' | 'not_owner' | 'url_in_use' | 'unreachable_address' | 'bad_request' | 'version'; message: string };
