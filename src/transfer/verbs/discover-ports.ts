/**
 * Discovery: every port of every RDMA device libibverbs lists, with its state, rate, link layer and
 * GID table, through the native bindings.
 *
 * Decisions:
 * - Each device is opened only for the queries and closed again (the transfer opens its own
 *   contexts on the devices it selects); the device list is freed whatever happens.
 * - Errors propagate as the bindings raise them (LibibverbsMissingError, a VerbsError naming the
 *   call): require-verbs.ts turns the "no RDMA here" ones into the user-facing message. An empty
 *   device list is returned as no ports.
 * - The GID table is read entry by entry up to the port's `gid_tbl_len`, skipping empty slots.
 */
import { DeviceList, GID_TYPE, LINK_LAYER, MTU, PORT_STATE, type Context, type GidEntry } from '../../../native/verbs/index.js';
import { formatGid, ipv4OfGid } from './gid.js';
import { linkRate } from './link-rate.js';
import type { GidInfo, GidTypeName, LinkLayerName, PortInfo, PortStateName } from './port-info.js';

const STATE_NAMES: Readonly<Record<number, PortStateName>> = {
  [PORT_STATE.IBV_PORT_NOP]: 'NOP',
  [PORT_STATE.IBV_PORT_DOWN]: 'DOWN',
  [PORT_STATE.IBV_PORT_INIT]: 'INIT',
  [PORT_STATE.IBV_PORT_ARMED]: 'ARMED',
  [PORT_STATE.IBV_PORT_ACTIVE]: 'ACTIVE',
  [PORT_STATE.IBV_PORT_ACTIVE_DEFER]: 'ACTIVE_DEFER',
};

const LINK_LAYER_NAMES: Readonly<Record<number, LinkLayerName>> = {
  [LINK_LAYER.IBV_LINK_LAYER_INFINIBAND]: 'InfiniBand',
  [LINK_LAYER.IBV_LINK_LAYER_ETHERNET]: 'Ethernet',
};

const GID_TYPE_NAMES: Readonly<Record<number, GidTypeName>> = {
  [GID_TYPE.IBV_GID_TYPE_IB]: 'IB',
  [GID_TYPE.IBV_GID_TYPE_ROCE_V1]: 'RoCE v1',
  [GID_TYPE.IBV_GID_TYPE_ROCE_V2]: 'RoCE v2',
};

const MTU_BYTES: Readonly<Record<number, number>> = {
  [MTU.IBV_MTU_256]: 256,
  [MTU.IBV_MTU_512]: 512,
  [MTU.IBV_MTU_1024]: 1024,
  [MTU.IBV_MTU_2048]: 2048,
  [MTU.IBV_MTU_4096]: 4096,
};

function gidInfo(entry: GidEntry): GidInfo {
  // A type the header does not name is reported as IB: only RoCE types change the preference.
  return { index: entry.index, gid: formatGid(entry.gid), type: GID_TYPE_NAMES[entry.type] ?? 'IB', ipv4: ipv4OfGid(entry.gid) };
}

function portInfo(context: Context, port: number): PortInfo {
  const attr = context.queryPort(port);
  const gids: GidInfo[] = [];
  for (let index = 0; index < attr.gidTableLength; index++) {
    const entry = context.queryGid(port, index);
    if (entry) gids.push(gidInfo(entry));
  }
  return {
    device: context.deviceName,
    port,
    state: STATE_NAMES[attr.state] ?? 'NOP', // a state verbs.h does not name: not usable either
    activeSpeed: attr.activeSpeed,
    activeWidth: attr.activeWidth,
    rate: linkRate(attr.activeSpeed, attr.activeWidth),
    linkLayer: LINK_LAYER_NAMES[attr.linkLayer] ?? 'unspecified',
    lid: attr.lid,
    activeMtu: MTU_BYTES[attr.activeMtu] ?? 0,
    gids,
  };
}

/** Every port of every device, in device-list order and port order. */
export function discoverPorts(): PortInfo[] {
  const list = DeviceList.open();
  try {
    const ports: PortInfo[] = [];
    for (const device of list.devices) {
      const context = device.open();
      try {
        const { physPortCount } = context.queryDevice();
        for (let port = 1; port <= physPortCount; port++) ports.push(portInfo(context, port));
      } finally {
        context.close();
      }
    }
    return ports;
  } finally {
    list.free();
  }
}
