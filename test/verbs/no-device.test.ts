/**
 * Without RDMA nothing crashes and the user is told what is missing: the bindings load and list
 * devices cleanly on a machine without any, and each way of having no RDMA (library missing,
 * ibv_get_device_list failing, an empty list, no usable port) becomes one message that names it and
 * points at the tcp and shm backends.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { describe, test } from 'node:test';
import { DeviceList, LibibverbsMissingError, VerbsError } from '../../native/verbs/index.js';
import { bindLibibverbs, SYMBOLS, verbs } from '../../native/verbs/library.js';
import { discoverAvailablePorts, requireChosen, VerbsUnavailableError } from '../../src/transfer/verbs/require-verbs.js';
import { selectDevices } from '../../src/transfer/verbs/select-devices.js';
import { recordedPort } from './recorded-ports.js';

const HINT = 'The verbs transfer backend needs an RDMA device; --disaggregation-transfer-backend tcp or shm work without RDMA.';

describe('the bindings on this machine', () => {
  test('libibverbs.so.1 loads and every bound symbol resolves', () => {
    const bindings = verbs() as unknown as Record<string, unknown>;
    for (const name of SYMBOLS) assert.equal(typeof bindings[name], 'function', name);
  });

  test('listing devices either fails with a VerbsError naming ibv_get_device_list, or lists named devices', () => {
    let list: DeviceList | undefined;
    try {
      list = DeviceList.open();
    } catch (err) {
      assert.ok(err instanceof VerbsError, String(err));
      assert.equal(err.call, 'ibv_get_device_list');
      assert.match(err.message, /^ibv_get_device_list found no RDMA device: .+ \(E[A-Z]+\)$/);
      return;
    }
    try {
      for (const d of list.devices) assert.match(d.name, /^\S+$/);
    } finally {
      list.free();
    }
  });

  test('a library that cannot be loaded says what to install', () => {
    assert.throws(() => bindLibibverbs('libpd-node-absent.so.1'), (err: unknown) => {
      assert.ok(err instanceof LibibverbsMissingError);
      assert.match(err.message, /^libpd-node-absent\.so\.1 is not installed or cannot be loaded \(.+\); install libibverbs1 and ibverbs-providers/);
      return true;
    });
  });
});

describe('no RDMA: one message per cause, with the way out', () => {
  const failing = (err: Error) => () => {
    throw err;
  };

  test('libibverbs missing', () => {
    assert.throws(() => discoverAvailablePorts(failing(new LibibverbsMissingError('libibverbs.so.1', 'cannot open shared object file'))), {
      name: 'VerbsUnavailableError',
      message: `libibverbs.so.1 is not installed or cannot be loaded (cannot open shared object file); install libibverbs1 and ibverbs-providers (Debian/Ubuntu) or rdma-core. ${HINT}`,
    });
  });

  test('ibv_get_device_list failing, with the errno text', () => {
    const listFailed = (errno: number) => new VerbsError('ibv_get_device_list', errno, 'ibv_get_device_list found no RDMA device');
    assert.throws(() => discoverAvailablePorts(failing(listFailed(constants.errno.ENOSYS))), {
      message: `ibv_get_device_list found no RDMA device: Function not implemented (ENOSYS): the kernel has no RDMA support. ${HINT}`,
    });
    assert.throws(() => discoverAvailablePorts(failing(listFailed(constants.errno.EPERM))), {
      message: `ibv_get_device_list found no RDMA device: Operation not permitted (EPERM). ${HINT}`,
    });
  });

  test('an empty device list', () => {
    assert.throws(() => discoverAvailablePorts(() => []), {
      message: `ibv_get_device_list found no RDMA device: the list is empty (no RDMA NIC, or no provider library for it: install ibverbs-providers). ${HINT}`,
    });
  });

  test('devices but no usable port: every port with its reason', () => {
    const ports = [recordedPort({ device: 'rxe0', state: 'DOWN', gids: [] }), recordedPort({ device: 'rxe1', speed: 0, gids: [] })];
    assert.throws(() => requireChosen(selectDevices(discoverAvailablePorts(() => ports))), {
      name: 'VerbsUnavailableError',
      message: `no usable RDMA port (rxe0 port 1: port DOWN, not ACTIVE; rxe1 port 1: unknown link speed (active_speed 0, active_width 2)). ${HINT}`,
    });
  });

  test('other verbs failures are problems of an RDMA setup and pass through unchanged', () => {
    const denied = new VerbsError('ibv_open_device(mlx5_0)', constants.errno.EACCES);
    assert.throws(() => discoverAvailablePorts(failing(denied)), (err: unknown) => err === denied && !(err instanceof VerbsUnavailableError));
  });
});
