/**
 * "No RDMA here" as one clear error, for `pd-node devices` and for a node started with
 * `--disaggregation-transfer-backend verbs`: both call these functions, so both say the same thing.
 *
 * Decisions:
 * - Three ways to have no RDMA, each named: libibverbs.so.1 missing; `ibv_get_device_list` failing
 *   (with its errno text: ENOSYS on a kernel without RDMA support, as on CI machines); an empty
 *   device list (no NIC, or no provider library for it). A fourth comes after selection: devices
 *   exist but no port is usable (all DOWN, say); the message then lists each port's reason.
 * - Every message ends by saying that the tcp and shm backends work without RDMA.
 * - Other failures (a device that cannot be opened, a query refused) propagate unchanged: they are
 *   problems with an RDMA setup, not the absence of one.
 */
import { LibibverbsMissingError, VerbsError } from '../../../native/verbs/index.js';
import { discoverPorts } from './discover-ports.js';
import type { PortInfo } from './port-info.js';
import { selectDevices, type DeviceSelection } from './select-devices.js';

export const WITHOUT_RDMA = '--disaggregation-transfer-backend tcp or shm work without RDMA';

export class VerbsUnavailableError extends Error {
  constructor(what: string) {
    super(`${what}. The verbs transfer backend needs an RDMA device; ${WITHOUT_RDMA}.`);
    this.name = 'VerbsUnavailableError';
  }
}

/** `discoverPorts()`, with "no RDMA" failures turned into VerbsUnavailableError. */
export function discoverAvailablePorts(discover: () => PortInfo[] = discoverPorts): PortInfo[] {
  let ports: PortInfo[];
  try {
    ports = discover();
  } catch (err) {
    if (err instanceof LibibverbsMissingError) throw new VerbsUnavailableError(err.message);
    if (err instanceof VerbsError && err.call === 'ibv_get_device_list') {
      throw new VerbsUnavailableError(err.code === 'ENOSYS' ? `${err.message}: the kernel has no RDMA support` : err.message);
    }
    throw err;
  }
  if (ports.length === 0) throw new VerbsUnavailableError('ibv_get_device_list found no RDMA device: the list is empty (no RDMA NIC, or no provider library for it: install ibverbs-providers)');
  return ports;
}

/** Throws VerbsUnavailableError when `selection` chose nothing, listing why each port was skipped. */
export function requireChosen(selection: DeviceSelection): DeviceSelection {
  if (selection.chosen.length > 0) return selection;
  const reasons = selection.choices.map((c) => `${c.port.device} port ${c.port.port}: ${c.reason}`);
  throw new VerbsUnavailableError(`no usable RDMA port (${reasons.join('; ')})`);
}

/**
 * For node start-up with the verbs backend: the devices to use (as `pd-node devices` would print
 * them), or a VerbsUnavailableError / DeviceSelectionError saying why there are none.
 */
export function requireVerbsDevices(ibDevices?: readonly string[]): DeviceSelection {
  return requireChosen(selectDevices(discoverAvailablePorts(), ibDevices));
}
