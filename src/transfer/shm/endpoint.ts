/**
 * The shm backend's endpoint. `hostId` tells whether the sender is on the same host (shm cannot
 * cross hosts); `name` is the pool's object, `bytes` its pool bytes (after the header page),
 * `poolId` the random id in its header (32 hex digits), which the sender checks before writing
 * (pool-header.ts). The parser checks shapes; ShmKvManager.connect checks the name and the object.
 */
import { integerIn, nonEmptyText, textMatching, type EndpointFields } from '../endpoint-fields.js';
import type { KvEndpoint } from '../kv-transfer.js';
import { POOL_ID } from './pool-header.js';

export interface ShmEndpoint extends KvEndpoint {
  readonly backend: 'shm';
  readonly name: string;
  readonly bytes: number;
  readonly hostId: string;
  readonly poolId: string;
}

export function parseShmEndpoint(o: EndpointFields, path: string): ShmEndpoint {
  return {
    backend: 'shm',
    name: nonEmptyText(o, 'name', path),
    bytes: integerIn(o, 'bytes', path, 0),
    hostId: nonEmptyText(o, 'hostId', path),
    poolId: textMatching(o, 'poolId', path, POOL_ID, '32 lower-case hex digits'),
  };
}
