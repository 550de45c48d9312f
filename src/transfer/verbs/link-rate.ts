/**
 * A port's link rate from the `active_speed` / `active_width` codes of `struct ibv_port_attr`.
 *
 * Decisions:
 * - The codes are the InfiniBand PortInfo encodings the kernel passes through (its `enum
 *   ib_port_speed` / `ib_port_width`; rdma-core 44's verbs.h does not name them): speed bit 0 SDR
 *   (2.5 Gb/s per lane), 1 DDR (5), 2 QDR (10), 3 FDR10 (10), 4 FDR (14), 5 EDR (25), 6 HDR (50),
 *   7 NDR (100); width 1 = 1X, 2 = 4X, 4 = 8X, 8 = 12X, 16 = 2X lanes.
 * - The rate is lanes x per-lane rate, the figure `ibstat`/`ibstatus` print ("400 Gb/sec (4X NDR)",
 *   4X FDR = 56): RoCE NICs report their Ethernet speed in the same encoding, so one rule covers both.
 * - An unknown code (a newer speed such as XDR, reported through `active_speed_ex` by newer
 *   rdma-core) gives null: the caller says so instead of guessing.
 */

interface Speed {
  name: string;
  laneGbps: number;
}

const SPEEDS: ReadonlyMap<number, Speed> = new Map([
  [1, { name: 'SDR', laneGbps: 2.5 }],
  [2, { name: 'DDR', laneGbps: 5 }],
  [4, { name: 'QDR', laneGbps: 10 }],
  [8, { name: 'FDR10', laneGbps: 10 }],
  [16, { name: 'FDR', laneGbps: 14 }],
  [32, { name: 'EDR', laneGbps: 25 }],
  [64, { name: 'HDR', laneGbps: 50 }],
  [128, { name: 'NDR', laneGbps: 100 }],
]);

const LANES: ReadonlyMap<number, number> = new Map([
  [1, 1],
  [2, 4],
  [4, 8],
  [8, 12],
  [16, 2],
]);

export interface LinkRate {
  gbps: number;
  /** As ibstat writes it: "400 Gb/s (4X NDR)". */
  text: string;
}

/** The rate of a port, or null when either code is not one of the known encodings. */
export function linkRate(activeSpeed: number, activeWidth: number): LinkRate | null {
  const speed = SPEEDS.get(activeSpeed);
  const lanes = LANES.get(activeWidth);
  if (!speed || lanes === undefined) return null;
  const gbps = speed.laneGbps * lanes;
  return { gbps, text: `${gbps} Gb/s (${lanes}X ${speed.name})` };
}
