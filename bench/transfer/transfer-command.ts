/**
 * `pd-bench transfer`: flags, then either the benchmark (the sending process, which spawns the
 * receiving one unless --peer names one) or, with `--role receiver`, the receiving process.
 *
 * Decisions:
 * - Flags are strings parsed by src/cli/flag-values.ts and bench-flags.ts, so every error names its
 *   flag; --help lists every flag with its default.
 * - Backends come from src/transfer/backends.ts. `--backend auto` is every backend that can run here
 *   (verbs needs a usable RDMA device; a note on stderr says why one was skipped). Asking for one
 *   explicitly that cannot run fails (exit 1) with the message a node would give (require-verbs.ts).
 * - `--quick` is for tests: two small sizes, short rows, no iperf3; explicit flags still win.
 * - The backends' own flags (--shm-copy-threads, --tcp-send-buffer, --disaggregation-ib-device) set
 *   each side's settings as a node's would; a receiver spawned here gets the sender's, a receiver
 *   started by hand its own.
 */
import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { FlagError, nonEmpty, oneOf, portNumber, positiveInteger, positiveSeconds } from '../../src/cli/flag-values.js';
import { pinningUnavailable } from '../cpu-pin.js';
import { addStringFlags, byteSize, flagReader, formatBytes, listOf, quickValues, type BenchFlag, type FlagReader } from '../bench-flags.js';
import { BACKEND_FLAG_HELP, BACKEND_SETTING_FLAGS, backendFlagArgs, resolveBackends, transferConfigs } from '../transfer-backends.js';
import { runReceiver } from './receiver-role.js';
import { formatTransferReport } from './transfer-report.js';
import { runTransferBench, type TransferBenchOptions } from './transfer-run.js';
import { PATTERNS } from './row-plan.js';

const FLAGS: Record<string, BenchFlag> = {
  role: { describe: 'sender runs the benchmark; receiver is the other process (started by the sender, or by hand on another host for --peer)', default: 'sender' },
  backend: { describe: BACKEND_FLAG_HELP, default: 'auto' },
  sizes: { describe: 'Comma-separated write sizes (bytes; KiB, MiB, GiB suffixes), each a multiple of --page-bytes', default: '4KiB,64KiB,1MiB,4MiB,16MiB,64MiB', quick: '4KiB,1MiB' },
  'page-bytes': { describe: 'KV page size in bytes', default: '4KiB' },
  pattern: { describe: `Page ids of a write: contiguous (one run) or scattered (random pages of the slot, about one run per page)`, default: 'contiguous' },
  concurrency: { describe: 'Writes in flight on the link', default: '4', quick: '2' },
  duration: { describe: 'Seconds per row (and per baseline)', default: '2', quick: '0.2' },
  iterations: { describe: 'Writes per row (and per baseline) instead of --duration', absent: 'none' },
  rounds: { describe: 'The timed writes and the baseline alternate this many times per row, each a share of --duration (or --iterations)', default: '4', quick: '1' },
  host: { describe: 'Address the receiver listens on (KV, baseline sink, iperf3, control)', default: '127.0.0.1' },
  peer: { describe: 'HOST:PORT of a receiver already running (pd-bench transfer --role receiver), e.g. on another host', absent: 'spawn one here' },
  'control-port': { describe: 'Receiver: control port to listen on (0: any; printed on stdout)', default: '0' },
  iperf3: { describe: 'auto: also run a single-stream iperf3 when it is on PATH (both hosts); off: never', default: 'auto' },
  'iperf3-seconds': { describe: 'Length of the iperf3 run', default: '3' },
  'ib-write-bw': { describe: "auto: for verbs, also run perftest's ib_write_bw per size when it is on PATH and an RDMA device is usable (both hosts); off: never", default: 'auto' },
  'write-timeout': { describe: 'Seconds a single write may take before the benchmark fails', default: '30' },
  'max-pool': { describe: "Bound on the receiver's pool (fewer slots than writes in flight for large sizes)", default: '512MiB' },
  json: { describe: 'Also write the results as JSON to this file', absent: 'none' },
  'pin-main': { describe: 'on: both main threads alone on the first CPU this process may use (CPU 0 here), every other thread on the others (taskset): the event-loop delay a spare core gives (not with --peer)', default: 'off' },
  ...BACKEND_SETTING_FLAGS,
};

function addFlags(y: Argv): Argv {
  return addStringFlags(y, FLAGS)
    .option('quick', { type: 'boolean', describe: `Small and fast (for tests): ${quickValues(FLAGS)}, no iperf3 or ib_write_bw`, default: false })
    .option('once', { type: 'boolean', describe: 'Receiver: exit after the first control session', default: false });
}

function peerOf(raw: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(raw);
  if (!m) throw new FlagError(`--peer must be HOST:PORT (got "${raw}")`);
  return { host: nonEmpty('--peer', m[1].replace(/^\[(.*)\]$/, '$1')), port: portNumber('--peer', m[2]) };
}

/** Every option but the backends (resolved after every other flag is checked: it may probe for RDMA). */
function optionsFrom({ given, value }: FlagReader, quick: boolean): Omit<TransferBenchOptions, 'backends'> {
  const transfer = transferConfigs(given);
  const pageBytes = byteSize('--page-bytes', value('page-bytes'));
  if (pageBytes % 16 !== 0) throw new FlagError(`--page-bytes must be a multiple of 16 bytes (got "${value('page-bytes')}")`);
  const sizes = listOf('--sizes', value('sizes'), byteSize);
  for (const size of sizes) if (size % pageBytes !== 0) throw new FlagError(`--sizes: ${formatBytes(size)} is not a multiple of --page-bytes ${formatBytes(pageBytes)}`);
  const peer = given('peer');
  const iterations = given('iterations');
  const maxPoolBytes = byteSize('--max-pool', value('max-pool'));
  if (sizes.some((s) => s > maxPoolBytes)) throw new FlagError(`--max-pool (${formatBytes(maxPoolBytes)}) must hold at least the largest of --sizes`);
  const pinMain = oneOf('--pin-main', value('pin-main'), ['on', 'off'] as const) === 'on';
  if (pinMain && peer !== undefined) throw new FlagError('--pin-main on pins the receiver spawned here: it cannot be given with --peer');
  const unpinnable = pinMain ? pinningUnavailable() : null;
  if (unpinnable !== null) throw new FlagError(`--pin-main on cannot be done here: ${unpinnable}`);
  return {
    sizes,
    pageBytes,
    pattern: oneOf('--pattern', value('pattern'), PATTERNS),
    concurrency: positiveInteger('--concurrency', value('concurrency')),
    durationS: positiveSeconds('--duration', value('duration')),
    iterations: iterations === undefined ? null : positiveInteger('--iterations', iterations),
    rounds: positiveInteger('--rounds', value('rounds')),
    host: nonEmpty('--host', value('host')),
    peer: peer === undefined ? null : peerOf(peer),
    iperf3: !quick && oneOf('--iperf3', value('iperf3'), ['auto', 'off'] as const) === 'auto',
    iperf3Seconds: positiveInteger('--iperf3-seconds', value('iperf3-seconds')),
    ibWriteBw: !quick && oneOf('--ib-write-bw', value('ib-write-bw'), ['auto', 'off'] as const) === 'auto',
    writeTimeoutMs: positiveSeconds('--write-timeout', value('write-timeout')) * 1000,
    maxPoolBytes,
    pinMain,
    transfer,
    backendArgs: backendFlagArgs(given),
  };
}

async function run(argv: Record<string, unknown>): Promise<void> {
  const flags = flagReader(argv, FLAGS);
  const role = oneOf('--role', flags.value('role'), ['sender', 'receiver'] as const);
  if (role === 'receiver') return runReceiver(nonEmpty('--host', flags.value('host')), portNumber('--control-port', flags.value('control-port')), argv.once === true, transferConfigs(flags.given));
  const json = flags.given('json');
  const options = optionsFrom(flags, argv.quick === true);
  const result = await runTransferBench({ backends: await resolveBackends(flags.value('backend'), 'pd-bench transfer'), ...options }, (row) => process.stderr.write(`pd-bench transfer: ${row.backend} ${formatBytes(row.size)} done\n`));
  process.stdout.write(formatTransferReport(result));
  if (json !== undefined) writeFileSync(nonEmpty('--json', json), `${JSON.stringify(result, null, 2)}\n`);
}

export const transferCommand: CommandModule = {
  command: 'transfer',
  describe: 'KV transfer between two processes per backend (GB/s, writes/s, latency, event-loop delay) against a plain copy or socket in the same run',
  builder: (y) => addFlags(y),
  handler: (argv) => run(argv),
};
