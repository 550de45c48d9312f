/**
 * The Soft-RoCE VM's device as the verbs tests use it: whether we are in the guest (`skipOutsideVm`
 * for describe's skip option), the device, its RoCE v2 GID index and address, opening it, and the
 * kernel's count of verbs objects on it (to prove a close gave everything back).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DeviceList, type Context } from '../../native/verbs/index.js';

export const skipOutsideVm: string | false = process.env.SOFTROCE_GUEST === '1' ? false : 'needs a real RDMA device: run it in the Soft-RoCE VM (bash softroce/run.sh)';
export const DEVICE = process.env.SOFTROCE_DEVICE ?? 'rxe0';
export const GID_INDEX = Number(process.env.SOFTROCE_GID_INDEX ?? '1');
export const IP = process.env.SOFTROCE_IP ?? '192.168.77.1';

/** `rdma resource show DEV`: the kernel's count of each verbs object type on the device. */
export function kernelObjects(): Record<string, number> {
  const out = execFileSync('rdma', ['resource', 'show', DEVICE], { encoding: 'utf8' });
  return Object.fromEntries([...out.matchAll(/\b(pd|cq|qp|mr|ctx) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

export function openDevice(): Context {
  const list = DeviceList.open();
  try {
    const device = list.devices.find((d) => d.name === DEVICE);
    assert.ok(device, `${DEVICE} in ${list.devices.map((d) => d.name).join(', ')}`);
    return device.open();
  } finally {
    list.free();
  }
}
