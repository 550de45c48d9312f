/**
 * `pd-node devices [--disaggregation-ib-device LIST]`: the RDMA ports of this host as the verbs
 * backend sees them (device, port, state, rate, link layer, the GID a connection would use, chosen
 * or skipped and why), then the `--disaggregation-ib-device` value that selects the chosen devices.
 *
 * Decisions:
 * - The last stdout line is `--disaggregation-ib-device VALUE`, so scripts can take it as is (the
 *   seed's IBDEVICES=...).
 * - No RDMA (library missing, no device, no usable port) exits 1 with the same message a node
 *   started with the verbs backend gives (require-verbs.ts); when ports exist the table is printed
 *   first, so the reasons are visible. A bad `--disaggregation-ib-device` is a usage error (exit 2).
 * - Discovery (and so the native bindings) is imported when the command runs, so other commands never
 *   load it; selection is pure and imported as usual.
 */
import type { Argv } from 'yargs';
import { DeviceSelectionError, IB_DEVICE_FLAG, parseIbDeviceList, selectDevices, type DeviceSelection, type PortChoice } from '../transfer/verbs/select-devices.js';
import { FlagError, rawFlag } from './flag-values.js';

const FLAG = IB_DEVICE_FLAG.slice('--'.length);

export interface DevicesFlags {
  /** The raw `--disaggregation-ib-device` value, if given. */
  ibDevices?: string;
}

export function addDevicesFlags<T>(y: Argv<T>): Argv<T> {
  return y.option(FLAG, {
    type: 'string',
    requiresArg: true,
    describe: 'Comma-separated RDMA devices to use instead of the automatic choice (e.g. mlx5_0,mlx5_2).',
    defaultDescription: 'the ACTIVE ports at the highest rate',
  }) as Argv<T>;
}

export function devicesFlagsFrom(argv: Record<string, unknown>): DevicesFlags {
  const raw = rawFlag(argv, FLAG);
  return raw === undefined ? {} : { ibDevices: raw };
}

function gidText(c: PortChoice): string {
  if (!c.gid) return '-';
  return `${c.gid.index} ${c.gid.type} ${c.gid.ipv4 === null ? c.gid.gid : `::ffff:${c.gid.ipv4}`}`;
}

/** The report: one row per port, aligned columns, then the flag line (when something was chosen). */
export function formatDeviceReport(selection: DeviceSelection): string {
  const header = ['DEVICE', 'PORT', 'STATE', 'RATE', 'LINK LAYER', 'GID (index type address)', 'CHOICE'];
  const rows = selection.choices.map((c) => [
    c.port.device,
    String(c.port.port),
    c.port.state,
    c.port.rate?.text ?? `unknown (speed ${c.port.activeSpeed}, width ${c.port.activeWidth})`,
    c.port.linkLayer,
    gidText(c),
    `${c.chosen ? 'chosen' : 'skipped'}: ${c.reason}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ');
  const table = `${[header, ...rows].map(line).join('\n')}\n`;
  return selection.chosen.length === 0 ? table : `${table}\n${IB_DEVICE_FLAG} ${selection.ibDevices}\n`;
}

export async function runDevices(flags: DevicesFlags): Promise<void> {
  const { discoverAvailablePorts, requireChosen } = await import('../transfer/verbs/require-verbs.js');
  let selection: DeviceSelection;
  try {
    const names = flags.ibDevices === undefined ? undefined : parseIbDeviceList(flags.ibDevices);
    selection = selectDevices(discoverAvailablePorts(), names);
  } catch (err) {
    throw err instanceof DeviceSelectionError ? new FlagError(err.message) : err;
  }
  process.stdout.write(formatDeviceReport(selection));
  requireChosen(selection);
}
