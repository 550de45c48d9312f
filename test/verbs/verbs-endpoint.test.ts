/**
 * A verbs endpoint (exchange address, and per device GID, address and rkey of the decode pool) is
 * accepted where decode nodes publish it (registry records) and where prefill receives it (the PD
 * control protocol's kv_request), and malformed ones are refused naming the field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTROL_PROTOCOL_VERSION, parseDecodeToPrefill } from '../../src/pd/control-protocol.js';
import { checkNodeRecord } from '../../src/registry/messages.js';
import type { KvEndpoint } from '../../src/transfer/kv-transfer.js';
import { nodeRecord } from '../registry/support.js';

const ENDPOINT: KvEndpoint = {
  backend: 'verbs',
  host: '192.168.77.1',
  port: 40000,
  bytes: 1 << 20,
  devices: [{ name: 'rxe0', gid: '00000000000000000000ffffc0a84d01', gidIndex: 1, lid: 0, addr: '140737488351232', rkey: 0x1234 }],
};

function withEndpoint(endpoint: unknown): unknown {
  return { ...nodeRecord('d', 'decode', 33000), kvEndpoints: [endpoint] };
}

function kvRequest(endpoint: unknown): Buffer {
  const model = { fingerprint: 'sha256:abc', servedModelName: 'tiny' };
  const kvLayout = { numLayers: 2, entriesPerToken: 64, dtype: 'float32', pageSize: 16 };
  return Buffer.from(JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, type: 'kv_request', room: '7', pageIds: [1, 2], endpoint, model, kvLayout, writer: '5ca1ab1e'.repeat(4) }));
}

test('registry records take verbs endpoints and refuse malformed ones', () => {
  assert.equal(checkNodeRecord(withEndpoint(ENDPOINT)), null);
  const device = ENDPOINT.backend === 'verbs' ? ENDPOINT.devices[0] : null;
  assert.match(checkNodeRecord(withEndpoint({ ...ENDPOINT, devices: [{ ...device, gid: 'fe80::1' }] })) ?? '', /kvEndpoints\[0\]\.devices\[0\]\.gid must be 32 lower-case hex digits/);
  assert.match(checkNodeRecord(withEndpoint({ ...ENDPOINT, devices: [{ ...device, addr: 123 }] })) ?? '', /devices\[0\]\.addr must be a string/);
  assert.match(checkNodeRecord(withEndpoint({ ...ENDPOINT, devices: 'rxe0' })) ?? '', /kvEndpoints\[0\]\.devices must be an array/);
  assert.match(checkNodeRecord(withEndpoint({ ...ENDPOINT, devices: [] })) ?? '', /kvEndpoints\[0\]\.devices must name at least one RDMA device/);
});

test('the PD control protocol takes a kv_request with a verbs endpoint and refuses one without devices', () => {
  assert.ok('msg' in parseDecodeToPrefill(kvRequest(ENDPOINT)));
  assert.deepEqual(parseDecodeToPrefill(kvRequest({ ...ENDPOINT, devices: [] })), { error: 'kv_request.endpoint is missing or malformed' });
});
