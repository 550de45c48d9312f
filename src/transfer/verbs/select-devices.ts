/**
 * Which RDMA devices the verbs backend uses: a pure function of the discovered ports and the optional
 * `--disaggregation-ib-device` list, with the reason for every port chosen or skipped.
 *
 * Decisions:
 * - By default a port is usable when it is ACTIVE, its rate is known and it has a GID; among usable
 *   ports the ones at the highest rate are chosen and the slower ones skipped (seed 000: a host with
 *   eight 400 Gb/s NDR ports and two 100 Gb/s EDR ones stripes over the eight only, since a transfer
 *   striped across all ten would wait for the slow ones).
 * - One link layer per node: if top-rate ports mix InfiniBand and Ethernet, the layer with more
 *   such ports wins (InfiniBand on a tie), because a queue pair cannot connect an IB port to a RoCE
 *   one and peers must find the same fabric on both sides.
 * - One port per device (the lowest-numbered eligible one): the flag names devices, not ports.
 * - `--disaggregation-ib-device` overrides the rate rule: the named devices are used, in the order
 *   given, each through its best usable port. A name that matches no device, a name given twice, a
 *   named device without a usable port, and named devices on different link layers are errors that
 *   say which names are wrong.
 * - Ports are reported in natural name order (mlx5_2 before mlx5_10), then port number.
 */
import { preferredGid } from './gid.js';
import type { GidInfo, PortInfo } from './port-info.js';

export const IB_DEVICE_FLAG = '--disaggregation-ib-device';

export interface PortChoice {
  port: PortInfo;
  chosen: boolean;
  /** Why it was chosen or skipped, e.g. "100 Gb/s, below the top rate 400 Gb/s". */
  reason: string;
  /** The GID a connection would use (see gid.ts); null when the table is empty. */
  gid: GidInfo | null;
}

export interface DeviceSelection {
  /** Every port with its decision, in report order. */
  choices: PortChoice[];
  /** The chosen ports, one per device, in the order the transfer stripes over them. */
  chosen: PortChoice[];
  /** The `--disaggregation-ib-device` value that selects the same devices. */
  ibDevices: string;
}

/** A `--disaggregation-ib-device` value that cannot be honoured. */
export class DeviceSelectionError extends Error {
  constructor(message: string) {
    super(`${IB_DEVICE_FLAG} ${message}`);
    this.name = 'DeviceSelectionError';
  }
}

/** "mlx5_0,mlx5_2" -> ["mlx5_0", "mlx5_2"]; empty names are errors. */
export function parseIbDeviceList(raw: string): string[] {
  const names = raw.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) throw new DeviceSelectionError(`has an empty device name (got "${raw}")`);
  return names;
}

const byName = new Intl.Collator('en', { numeric: true });

function compareTopology(a: PortInfo, b: PortInfo): number {
  return byName.compare(a.device, b.device) || a.port - b.port;
}

/** Why a port cannot be used at all, or null when it can. */
function unusable(port: PortInfo, gid: GidInfo | null): string | null {
  if (port.state !== 'ACTIVE') return `port ${port.state}, not ACTIVE`;
  if (port.rate === null) return `unknown link speed (active_speed ${port.activeSpeed}, active_width ${port.activeWidth})`;
  if (gid === null) return 'no GID in the port table';
  return null;
}

const LINK_LAYER_ORDER = ['InfiniBand', 'Ethernet', 'unspecified'] as const;

/**
 * The decision for every port, in report order. An unusable port is decided (skipped) from the
 * start; a usable one stays undecided (empty reason) until the rules choose or skip it.
 */
class Decisions {
  readonly choices: PortChoice[];

  constructor(ports: readonly PortInfo[]) {
    this.choices = [...ports].sort(compareTopology).map((port) => {
      const gid = preferredGid(port.gids);
      return { port, gid, chosen: false, reason: unusable(port, gid) ?? '' };
    });
  }

  undecided(): PortChoice[] {
    return this.choices.filter((c) => c.reason === '');
  }

  decide(choice: PortChoice, chosen: boolean, reason: string): void {
    choice.chosen = chosen;
    choice.reason = reason;
  }

  /** Chooses `choice`, and skips the other undecided ports of its device. */
  choose(choice: PortChoice, reason: string): void {
    this.decide(choice, true, reason);
    for (const other of this.undecided()) {
      if (other.port.device === choice.port.device) this.decide(other, false, `${choice.port.device} uses port ${choice.port.port}`);
    }
  }
}

function selection(d: Decisions, chosen: PortChoice[]): DeviceSelection {
  return { choices: d.choices, chosen, ibDevices: chosen.map((c) => c.port.device).join(',') };
}

function selectByRate(d: Decisions): DeviceSelection {
  const usable = d.undecided();
  const top = Math.max(...usable.map((c) => c.port.rate?.gbps ?? 0));
  for (const c of usable) {
    if ((c.port.rate?.gbps ?? 0) < top) d.decide(c, false, `${c.port.rate?.gbps} Gb/s, below the top rate ${top} Gb/s`);
  }
  const fastest = d.undecided();
  const count = (layer: string): number => fastest.filter((c) => c.port.linkLayer === layer).length;
  const layer = [...LINK_LAYER_ORDER].sort((a, b) => count(b) - count(a))[0];
  for (const c of fastest) {
    if (c.port.linkLayer !== layer) d.decide(c, false, `${c.port.linkLayer} link layer; the chosen ${top} Gb/s ports are ${layer}`);
  }
  const chosen: PortChoice[] = [];
  for (const c of d.undecided()) {
    if (c.reason !== '') continue; // skipped meanwhile as a second port of a chosen device
    d.choose(c, `ACTIVE at the top rate, ${top} Gb/s ${layer}`);
    chosen.push(c);
  }
  return selection(d, chosen);
}

function selectNamed(d: Decisions, names: readonly string[]): DeviceSelection {
  const known = [...new Set(d.choices.map((c) => c.port.device))];
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new DeviceSelectionError(`names ${unknown.length === 1 ? 'a device that does not exist' : 'devices that do not exist'}: ${unknown.join(', ')} (devices here: ${known.join(', ') || 'none'})`);
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length > 0) throw new DeviceSelectionError(`names ${[...new Set(twice)].join(', ')} more than once`);

  const chosen: PortChoice[] = [];
  for (const name of names) {
    const candidates = d.undecided().filter((c) => c.port.device === name);
    if (candidates.length === 0) {
      const why = d.choices.filter((c) => c.port.device === name).map((c) => `port ${c.port.port}: ${c.reason}`);
      throw new DeviceSelectionError(`names ${name}, which has no usable port (${why.join('; ')})`);
    }
    const best = candidates.reduce((a, b) => ((b.port.rate?.gbps ?? 0) > (a.port.rate?.gbps ?? 0) ? b : a));
    d.choose(best, `named by ${IB_DEVICE_FLAG}`);
    chosen.push(best);
  }
  const layers = [...new Set(chosen.map((c) => c.port.linkLayer))];
  if (layers.length > 1) {
    throw new DeviceSelectionError(`names devices on different link layers (${chosen.map((c) => `${c.port.device} ${c.port.linkLayer}`).join(', ')}); a transfer uses one`);
  }
  for (const c of d.undecided()) d.decide(c, false, `not named by ${IB_DEVICE_FLAG}`);
  return selection(d, chosen);
}

/**
 * The devices to use: by default the usable ports at the top rate (one link layer, one port per
 * device); with `names`, exactly those devices. Throws DeviceSelectionError for a bad `names`.
 */
export function selectDevices(ports: readonly PortInfo[], names?: readonly string[]): DeviceSelection {
  const d = new Decisions(ports);
  return names === undefined ? selectByRate(d) : selectNamed(d, names);
}
