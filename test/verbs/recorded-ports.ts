/**
 * Recorded port tables for the selection tests, shaped as discoverPorts() returns them.
 *
 * SEED_000_HOST is the host of seed 000 (`ibv_devices` + `ibstatus`): ten mlx5 RoCE devices, the
 * node GUIDs as listed, every port ACTIVE on Ethernet; mlx5_1 and mlx5_6 (another card, GUID prefix
 * b83fd2) run 4X EDR at 100 Gb/s, the eight others 4X NDR at 400 Gb/s. Their GID tables are what an
 * mlx5 RoCE port shows: RoCE v1 and v2 link-local GIDs (fe80:: + the EUI-64 of the NIC's MAC, e.g.
 * fe80:0000:0000:0000:5aa2:e1ff:fea5:399e for mlx5_0 as ibstatus prints) at 0 and 1, then the
 * IPv4-mapped ones at 2 and 3.
 */
import { formatGid } from '../../src/transfer/verbs/gid.js';
import { linkRate } from '../../src/transfer/verbs/link-rate.js';
import type { GidInfo, LinkLayerName, PortInfo, PortStateName } from '../../src/transfer/verbs/port-info.js';

/** active_speed / active_width codes. */
export const NDR = 128;
export const EDR = 32;
export const HDR = 64;
export const WIDTH_4X = 2;

function bytes(hex: string): number[] {
  return hex.match(/../g)!.map((b) => parseInt(b, 16));
}

/** The RoCE GID table of a port whose node GUID is `guid` and whose netdev has `ipv4`. */
export function roceGids(guid: string, ipv4: string): GidInfo[] {
  const g = bytes(guid);
  // MAC = GUID bytes 0-2 and 5-7; link-local interface id = EUI-64 of the MAC (U/L bit flipped).
  const linkLocal = formatGid(Uint8Array.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, g[0] ^ 2, g[1], g[2], 0xff, 0xfe, g[5], g[6], g[7]]));
  const mapped = formatGid(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ipv4.split('.').map(Number)]));
  return [
    { index: 0, gid: linkLocal, type: 'RoCE v1', ipv4: null },
    { index: 1, gid: linkLocal, type: 'RoCE v2', ipv4: null },
    { index: 2, gid: mapped, type: 'RoCE v1', ipv4 },
    { index: 3, gid: mapped, type: 'RoCE v2', ipv4 },
  ];
}

/** The GID table of an InfiniBand port: the default GID (subnet prefix + port GUID) only. */
export function ibGids(guid: string): GidInfo[] {
  return [{ index: 0, gid: formatGid(Uint8Array.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, ...bytes(guid)])), type: 'IB', ipv4: null }];
}

export interface PortSpec {
  device: string;
  port?: number;
  state?: PortStateName;
  speed?: number;
  width?: number;
  linkLayer?: LinkLayerName;
  gids: GidInfo[];
}

/** A port as discovery reports it (rate decoded from the codes the same way). */
export function recordedPort(spec: PortSpec): PortInfo {
  const speed = spec.speed ?? NDR;
  const width = spec.width ?? WIDTH_4X;
  return {
    device: spec.device,
    port: spec.port ?? 1,
    state: spec.state ?? 'ACTIVE',
    activeSpeed: speed,
    activeWidth: width,
    rate: linkRate(speed, width),
    linkLayer: spec.linkLayer ?? 'Ethernet',
    lid: 0,
    activeMtu: 4096,
    gids: spec.gids,
  };
}

const SEED_000_GUIDS: readonly (readonly [string, string])[] = [
  ['mlx5_0', '58a2e10300a5399e'],
  ['mlx5_1', 'b83fd20300ce434e'],
  ['mlx5_2', '58a2e10300a539ae'],
  ['mlx5_3', '58a2e10300a5413e'],
  ['mlx5_4', '58a2e10300a539de'],
  ['mlx5_5', '58a2e10300a7e7c6'],
  ['mlx5_6', 'b83fd20300ce4350'],
  ['mlx5_7', '58a2e10300a7e9e6'],
  ['mlx5_8', '58a2e10300a7ea06'],
  ['mlx5_9', '58a2e10300a7ea56'],
];

export const SEED_000_HOST: readonly PortInfo[] = SEED_000_GUIDS.map(([device, guid], i) =>
  recordedPort({ device, speed: guid.startsWith('b83fd2') ? EDR : NDR, gids: roceGids(guid, `192.168.${i}.10`) }),
);

/** The seed's IBDEVICES line. */
export const SEED_000_IBDEVICES = 'mlx5_0,mlx5_2,mlx5_3,mlx5_4,mlx5_5,mlx5_7,mlx5_8,mlx5_9';
