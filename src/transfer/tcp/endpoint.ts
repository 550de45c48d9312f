/** The tcp backend's endpoint: the receiver's listening address. */
import { integerIn, nonEmptyText, type EndpointFields } from '../endpoint-fields.js';
import type { KvEndpoint } from '../kv-transfer.js';

export interface TcpEndpoint extends KvEndpoint {
  readonly backend: 'tcp';
  readonly host: string;
  readonly port: number;
}

export function parseTcpEndpoint(o: EndpointFields, path: string): TcpEndpoint {
  return { backend: 'tcp', host: nonEmptyText(o, 'host', path), port: integerIn(o, 'port', path, 1, 65535) };
}
