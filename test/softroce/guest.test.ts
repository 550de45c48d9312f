/**
 * The Soft-RoCE guest itself (softroce/run.sh): the rxe0 device the verbs tests rely on is there, its
 * port is ACTIVE on Ethernet with the RoCE v2 IPv4-mapped GID at index 1, the uverbs character device
 * exists, and libibverbs loaded through koffi from Node lists it. Outside the VM (SOFTROCE_GUEST
 * unset) every test is skipped, so `npm test` on a host without RDMA stays green; run them with
 * `npm run test:softroce`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import koffi from 'koffi';

const inGuest = process.env.SOFTROCE_GUEST === '1';
const skip = inGuest ? false : 'needs the Soft-RoCE VM (bash softroce/run.sh)';
const DEVICE = process.env.SOFTROCE_DEVICE ?? 'rxe0';
const GID_INDEX = Number(process.env.SOFTROCE_GID_INDEX ?? '1');
const IP = process.env.SOFTROCE_IP ?? '192.168.77.1';
const PORT = `/sys/class/infiniband/${DEVICE}/ports/1`;

const sysfs = (path: string): string => readFileSync(path, 'utf8').trim();

test('the guest has the rxe device with an ACTIVE Ethernet port', { skip }, () => {
  assert.ok(existsSync(`/sys/class/infiniband/${DEVICE}`), `${DEVICE} missing from /sys/class/infiniband`);
  assert.match(sysfs(`${PORT}/state`), /ACTIVE/);
  assert.equal(sysfs(`${PORT}/link_layer`), 'Ethernet');
  assert.ok(existsSync('/dev/infiniband/uverbs0'), '/dev/infiniband/uverbs0 missing');
});

test('GID index 1 is the RoCE v2 IPv4-mapped address of the dummy netdev', { skip }, () => {
  const gid = sysfs(`${PORT}/gids/${GID_INDEX}`);
  const octets = IP.split('.').map(Number);
  const hex = (a: number, b: number): string => ((a << 8) | b).toString(16).padStart(4, '0');
  assert.equal(gid, `0000:0000:0000:0000:0000:ffff:${hex(octets[0], octets[1])}:${hex(octets[2], octets[3])}`);
  assert.equal(sysfs(`${PORT}/gid_attrs/types/${GID_INDEX}`), 'RoCE v2');
});

test('ibv_devinfo sees the device through libibverbs and the rxe provider', { skip }, () => {
  const out = execFileSync('ibv_devinfo', ['-d', DEVICE], { encoding: 'utf8' });
  assert.match(out, /transport:\s+InfiniBand/);
  assert.match(out, /state:\s+PORT_ACTIVE/);
  assert.match(out, /link_layer:\s+Ethernet/);
});

test('koffi loads libibverbs in the guest and ibv_get_device_list finds the device', { skip }, () => {
  // Only the two exported list functions and ibv_get_device_name: enough to prove that Node's FFI
  // path works in the VM; the real bindings live in native/verbs/.
  const lib = koffi.load('libibverbs.so.1');
  const getList = lib.func('void **ibv_get_device_list(_Out_ int *num)');
  const freeList = lib.func('void ibv_free_device_list(void **list)');
  const getName = lib.func('const char *ibv_get_device_name(void *device)');
  const num = [0];
  const list = getList(num);
  assert.ok(list, 'ibv_get_device_list returned NULL');
  try {
    const devices = koffi.decode(list, 'void *', num[0]) as unknown[];
    const names = devices.map((d) => getName(d) as string);
    assert.ok(names.includes(DEVICE), `devices: ${names.join(', ')}`);
  } finally {
    freeList(list);
  }
});
