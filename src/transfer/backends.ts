/**
 * The transfer backends pd-node knows: one line per backend, each a descriptor exported by the
 * backend's folder (transfer-backend.ts says what a descriptor holds). Everything that depends on
 * the backend (flags, endpoint parsing, where the decode pool lives, the manager, pd-bench's
 * baseline) is read from here, so a new backend is a new folder plus one line below.
 *
 * Importing this works on any OS and opens no native library: the shm backend opens libc only when
 * it first maps a segment, and the verbs backend imports its manager and bindings only when its
 * manager is made or `unavailable` is asked (libibverbs is opened there, and without a usable RDMA
 * device that fails).
 */
import { EndpointError, fieldsAt } from './endpoint-fields.js';
import type { KvEndpoint, KvManager } from './kv-transfer.js';
import { SHM_BACKEND } from './shm/descriptor.js';
import { TCP_BACKEND } from './tcp/descriptor.js';
import type { ManagerEnv, TransferBackend, TransferConfig } from './transfer-backend.js';
import { VERBS_BACKEND } from './verbs/descriptor.js';

export const TRANSFER_BACKENDS = [TCP_BACKEND, SHM_BACKEND, VERBS_BACKEND] as const satisfies readonly TransferBackend[];

export type TransferBackendName = (typeof TRANSFER_BACKENDS)[number]['name'];

export const TRANSFER_BACKEND_NAMES: readonly TransferBackendName[] = TRANSFER_BACKENDS.map((b) => b.name);

/** The descriptor named `name`; throws naming the known ones. */
export function transferBackend(name: string): TransferBackend {
  const backend: TransferBackend | undefined = TRANSFER_BACKENDS.find((b) => b.name === name);
  if (!backend) throw new Error(`unknown transfer backend ${JSON.stringify(name)} (known: ${TRANSFER_BACKEND_NAMES.join(', ')})`);
  return backend;
}

/** The backend `name` with none of its flags given. */
export function defaultTransferConfig(name: string): TransferConfig {
  return { backend: name, settings: transferBackend(name).defaults };
}

/** The configured backend's manager. */
export function createKvManager(config: TransferConfig, env: ManagerEnv): Promise<KvManager> {
  return transferBackend(config.backend).createManager(config.settings, env);
}

/**
 * An endpoint a peer sent, checked by its backend's parser (the one check: the control plane calls
 * it on every kv_request); throws an EndpointError naming the field under `path`.
 */
export function parseKvEndpoint(value: unknown, path: string): KvEndpoint {
  const fields = fieldsAt(value, path);
  const backend: TransferBackend | undefined = TRANSFER_BACKENDS.find((b) => b.name === fields.backend);
  if (!backend) throw new EndpointError(`${path}.backend ${JSON.stringify(fields.backend)} is not a known transfer backend (${TRANSFER_BACKEND_NAMES.join(', ')})`);
  return backend.parseEndpoint(fields, path);
}

