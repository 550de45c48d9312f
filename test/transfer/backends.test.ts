/**
 * The backend table (src/transfer/backends.ts): names and flags are unique and reach the node's
 * flags; what each receiver publishes passes its backend's endpoint parser, which the PD control
 * protocol applies to every kv_request (strictly: malformed fields are refused by name, unknown
 * fields dropped); and a descriptor of a backend the table does not know fits the table's shape.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';
import { gqaLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { CONTROL_PROTOCOL_VERSION, parseDecodeToPrefill } from '../../src/pd/control-protocol.js';
import { parseKvEndpoint, TRANSFER_BACKEND_NAMES, TRANSFER_BACKENDS, transferBackend } from '../../src/transfer/backends.js';
import { EndpointError, nonEmptyText, type EndpointFields } from '../../src/transfer/endpoint-fields.js';
import type { KvEndpoint, KvManager } from '../../src/transfer/kv-transfer.js';
import type { TransferBackend } from '../../src/transfer/transfer-backend.js';
import type { VerbsEndpoint } from '../../src/transfer/verbs/endpoint.js';

const LAYOUT = gqaLayout(1, 1, 4, 'float16', 2); // 16-byte pages
const ENV = { connectTimeoutMs: 1_000, onRefuse: () => {}, linkKey: randomBytes(32), warn: () => {} };

const VERBS: VerbsEndpoint = {
  backend: 'verbs',
  host: '192.168.77.1',
  port: 40000,
  bytes: 1 << 20,
  devices: [{ name: 'rxe0', gid: '00000000000000000000ffffc0a84d01', gidIndex: 1, lid: 0, addr: '140737488351232', rkey: 0x1234 }],
};

function kvRequest(endpoint: unknown): Buffer {
  const model = { fingerprint: 'sha256:abc', servedModelName: 'tiny' };
  const kvLayout = { numLayers: 2, entriesPerToken: 64, dtype: 'float32', pageSize: 16 };
  return Buffer.from(JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, type: 'kv_request', room: '7', pageIds: [1, 2], endpoint, model, kvLayout, writer: '5ca1ab1e'.repeat(4) }));
}

/** The endpoint a kv_request carrying `endpoint` arrives with, or the control protocol's error. */
function received(endpoint: unknown): KvEndpoint | string {
  const parsed = parseDecodeToPrefill(kvRequest(endpoint));
  if ('error' in parsed) return parsed.error;
  assert.equal(parsed.msg.type, 'kv_request');
  return parsed.msg.type === 'kv_request' ? parsed.msg.endpoint : 'not a kv_request';
}

/** What each receiver of the table publishes, made here (verbs needs a device: a recorded one). */
async function publishedBy(name: string): Promise<KvEndpoint> {
  if (name === 'verbs') return VERBS;
  const backend = transferBackend(name);
  const placed = backend.createPool?.(LAYOUT, 4);
  const manager = await backend.createManager(backend.defaults, ENV);
  try {
    const receiver = await manager.listen(placed?.pool ?? new KvPool(LAYOUT, 4), '127.0.0.1');
    await receiver.close();
    return receiver.endpoint;
  } finally {
    placed?.region?.unlink();
    placed?.region?.close();
  }
}

describe('transfer backend table', () => {
  test('names are unique, and every backend flag is a node flag, once', () => {
    assert.equal(new Set(TRANSFER_BACKEND_NAMES).size, TRANSFER_BACKENDS.length);
    const nodeFlags = NODE_FLAGS.map((f) => f.name);
    assert.equal(new Set(nodeFlags).size, nodeFlags.length, 'no node flag declared twice');
    for (const b of TRANSFER_BACKENDS) for (const f of b.flags) assert.ok(nodeFlags.includes(f.name), `--${f.name} of ${b.name}`);
    assert.ok(nodeFlags.includes('disaggregation-ib-device'), 'verbs owns --disaggregation-ib-device');
  });

  for (const name of TRANSFER_BACKEND_NAMES) {
    test(`${name}: what its receiver publishes passes the control protocol unchanged, and unknown fields are dropped`, async () => {
      const endpoint = await publishedBy(name);
      assert.equal(endpoint.backend, name);
      assert.deepEqual(received(endpoint), endpoint);
      assert.deepEqual(received({ ...endpoint, smuggled: 'x' }), endpoint);
      assert.deepEqual(transferBackend(name).publish(endpoint, '10.1.1.1').backend, name);
    });
  }

  test('malformed endpoints are refused naming the field', () => {
    const device = VERBS.devices[0];
    const cases: [unknown, RegExp][] = [
      [{ backend: 'udp', host: 'h', port: 1 }, new RegExp(`^kv_request\\.endpoint\\.backend "udp" is not a known transfer backend \\(${TRANSFER_BACKEND_NAMES.join(', ')}\\)$`)],
      ['tcp://h:1', /^kv_request\.endpoint must be an object$/],
      [{ backend: 'tcp', host: 'h', port: 70000 }, /^kv_request\.endpoint\.port must be an integer in \[1, 65535\]$/],
      [{ backend: 'tcp', host: '', port: 1 }, /^kv_request\.endpoint\.host must be a non-empty string$/],
      [{ backend: 'shm', name: '/pd-node-1-abc', bytes: 16, hostId: 'h', poolId: 'not-hex' }, /^kv_request\.endpoint\.poolId must be 32 lower-case hex digits$/],
      [{ ...VERBS, devices: [{ ...device, gid: 'fe80::1' }] }, /^kv_request\.endpoint\.devices\[0\]\.gid must be 32 lower-case hex digits$/],
      [{ ...VERBS, devices: [{ ...device, addr: 123 }] }, /^kv_request\.endpoint\.devices\[0\]\.addr must be a decimal address$/],
      [{ ...VERBS, devices: 'rxe0' }, /^kv_request\.endpoint\.devices must be an array$/],
      [{ ...VERBS, devices: [] }, /^kv_request\.endpoint\.devices must name at least one RDMA device$/],
    ];
    for (const [endpoint, message] of cases) assert.match(String(received(endpoint)), message, JSON.stringify(endpoint));
    assert.throws(() => parseKvEndpoint(null, 'e'), EndpointError);
  });

  test('a descriptor of a new backend fits the table shape (this one copies within one process)', async () => {
    interface LoopEndpoint extends KvEndpoint {
      readonly backend: 'loop';
      readonly slot: string;
    }
    const manager: KvManager = {
      backend: 'loop',
      listen: () => Promise.reject(new Error('not needed here')),
      connect: () => Promise.reject(new Error('not needed here')),
    };
    const loop: TransferBackend<{ slot: string }, LoopEndpoint> = {
      name: 'loop',
      needs: 'needs both nodes in one process',
      defaults: { slot: 'a' },
      flags: [{ name: 'loop-slot', describe: 'the slot', defaultText: 'a', apply: (s, raw) => ({ ...s, slot: raw }) }],
      parseEndpoint: (o: EndpointFields, path: string) => ({ backend: 'loop', slot: nonEmptyText(o, 'slot', path) }),
      publish: (endpoint) => endpoint,
      createManager: async () => manager,
      unavailable: async () => null,
      bench: { baseline: 'Buffer.copy', reference: null },
    };
    const table: readonly TransferBackend[] = [...TRANSFER_BACKENDS, loop];
    const found = table.find((b) => b.name === 'loop')!;
    assert.deepEqual(found.flags[0].apply(found.defaults, 'b', '--loop-slot'), { slot: 'b' });
    assert.deepEqual(found.parseEndpoint({ backend: 'loop', slot: 's', extra: 1 }, 'e'), { backend: 'loop', slot: 's' });
    assert.throws(() => found.parseEndpoint({ backend: 'loop' }, 'e'), /^EndpointError: e\.slot must be a non-empty string$/);
    assert.equal(await found.createManager(found.defaults, ENV), manager);
  });
});
