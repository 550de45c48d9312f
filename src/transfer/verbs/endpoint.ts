/**
 * The verbs backend's endpoint: `host:port` is the receiver's queue-pair exchange (TCP); `devices`
 * its pool registered on each RDMA device, in striping order; `bytes` the registered pool size.
 */
import { EndpointError, fieldsAt, integerIn, listAt, nonEmptyText, textMatching, type EndpointFields } from '../endpoint-fields.js';
import type { KvEndpoint } from '../kv-transfer.js';

/** The decode pool as one RDMA device exposes it. `addr` is a decimal string (a 64-bit address). */
export interface VerbsDeviceEndpoint {
  name: string;
  /** 32 hex digits, network order. */
  gid: string;
  gidIndex: number;
  lid: number;
  addr: string;
  rkey: number;
}

export interface VerbsEndpoint extends KvEndpoint {
  readonly backend: 'verbs';
  readonly host: string;
  readonly port: number;
  readonly bytes: number;
  readonly devices: readonly VerbsDeviceEndpoint[];
}

export function parseVerbsEndpoint(o: EndpointFields, path: string): VerbsEndpoint {
  const devices = listAt(o, 'devices', path);
  if (devices.length === 0) throw new EndpointError(`${path}.devices must name at least one RDMA device`);
  return {
    backend: 'verbs',
    host: nonEmptyText(o, 'host', path),
    port: integerIn(o, 'port', path, 1, 65535),
    bytes: integerIn(o, 'bytes', path, 0),
    devices: devices.map((d, i) => parseDevice(d, `${path}.devices[${i}]`)),
  };
}

function parseDevice(value: unknown, path: string): VerbsDeviceEndpoint {
  const o = fieldsAt(value, path);
  return {
    name: nonEmptyText(o, 'name', path),
    gid: textMatching(o, 'gid', path, /^[0-9a-f]{32}$/, '32 lower-case hex digits'),
    gidIndex: integerIn(o, 'gidIndex', path, 0),
    lid: integerIn(o, 'lid', path, 0, 65535),
    addr: textMatching(o, 'addr', path, /^\d{1,20}$/, 'a decimal address'),
    rkey: integerIn(o, 'rkey', path, 0, 0xffffffff),
  };
}
