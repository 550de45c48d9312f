/**
 * `pd-bench transfer`: flags, then either the benchmark (the sending process, which spawns the
 * receiving one unless --peer names one) or, with `--role receiver`, the receiving process.
 *
 * Decisions:
 * - Flags are strings parsed by src/cli/flag-values.ts and bench-flags.ts, so every error names its
 *   flag; --help lists every flag with its default.
 * - `--backend auto` is tcp and shm, plus verbs when an RDMA device is usable (otherwise a note on
 *   stderr says why it was skipped). Asking for verbs explicitly on a host without RDMA fails (exit
 *   1) with the message a node would give (require-verbs.ts).
 * - `--quick` is for tests: two small sizes, short rows, no iperf3; explicit flags still win.
 */
import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { FlagError, nonEmpty, oneOf, portNumber, positiveInteger, positiveSeconds, rawFlag } from '../../src/cli/flag-values.js';
import type { TransferBackendName } from '../../src/transfer/kv-transfer.js';
import { addStringFlags, byteSize, formatBytes, listOf, type BenchFlag } from '../bench-flags.js';
import { runReceiver } from './receiver-role.js';
import { formatTransferReport } from './transfer-report.js';
import { runTransferBench, type TransferBenchOptions } from './transfer-run.js';
import { PATTERNS } from './write-plan.js';

const BACKENDS = ['tcp', 'shm', 'verbs'] as const;
const DEFAULT_SIZES = '4KiB,64KiB,1MiB,4MiB,16MiB,64MiB';
const QUICK_SIZES = '4KiB,1MiB';

const FLAGS: Record<string, BenchFlag> = {
  role: { describe: 'sender runs the benchmark; receiver is the other process (started by the sender, or by hand on another host for --peer)', default: 'sender' },
  backend: { describe: `Comma-separated backends (${BACKENDS.join(', ')}), or auto: tcp, shm, and verbs when an RDMA device is usable`, default: 'auto' },
  sizes: { describe: 'Comma-separated write sizes (bytes; KiB, MiB, GiB suffixes), each a multiple of --page-bytes', default: DEFAULT_SIZES },
  'page-bytes': { describe: 'KV page size in bytes', default: '4KiB' },
  pattern: { describe: `Page ids of a write: contiguous (one run) or scattered (random pages of the slot, about one run per page)`, default: 'contiguous' },
  concurrency: { describe: 'Writes in flight on the link', default: '4' },
  duration: { describe: 'Seconds per row (and per baseline)', default: '2' },
  iterations: { describe: 'Writes per row (and per baseline) instead of --duration', default: 'none' },
  rounds: { describe: 'The timed writes and the baseline alternate this many times per row, each a share of --duration (or --iterations)', default: '4' },
  host: { describe: 'Address the receiver listens on (KV, baseline sink, iperf3, control)', default: '127.0.0.1' },
  peer: { describe: 'HOST:PORT of a receiver already running (pd-bench transfer --role receiver), e.g. on another host', default: 'spawn one here' },
  'control-port': { describe: 'Receiver: control port to listen on (0: any; printed on stdout)', default: '0' },
  iperf3: { describe: 'auto: also run a single-stream iperf3 when it is on PATH (both hosts); off: never', default: 'auto' },
  'iperf3-seconds': { describe: 'Length of the iperf3 run', default: '3' },
  'ib-write-bw': { describe: "auto: for verbs, also run perftest's ib_write_bw per size when it is on PATH and an RDMA device is usable (both hosts); off: never", default: 'auto' },
  'write-timeout': { describe: 'Seconds a single write may take before the benchmark fails', default: '30' },
  'max-pool': { describe: "Bound on the receiver's pool (fewer slots than writes in flight for large sizes)", default: '512MiB' },
  json: { describe: 'Also write the results as JSON to this file', default: 'none' },
};

function addFlags(y: Argv): Argv {
  return addStringFlags(y, FLAGS)
    .option('quick', { type: 'boolean', describe: `Small and fast (for tests): --sizes ${QUICK_SIZES}, --duration 0.2, --concurrency 2, --rounds 1, no iperf3 or ib_write_bw`, default: false })
    .option('once', { type: 'boolean', describe: 'Receiver: exit after the first control session', default: false });
}

function peerOf(raw: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(raw);
  if (!m) throw new FlagError(`--peer must be HOST:PORT (got "${raw}")`);
  return { host: nonEmpty('--peer', m[1].replace(/^\[(.*)\]$/, '$1')), port: portNumber('--peer', m[2]) };
}

async function resolveBackends(raw: string): Promise<TransferBackendName[]> {
  const { requireVerbsDevices } = await import('../../src/transfer/verbs/require-verbs.js');
  const verbsProblem = (): string | null => {
    try {
      requireVerbsDevices();
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  };
  if (raw === 'auto') {
    const problem = verbsProblem();
    if (problem === null) return ['tcp', 'shm', 'verbs'];
    process.stderr.write(`pd-bench transfer: verbs skipped: ${problem}\n`);
    return ['tcp', 'shm'];
  }
  const backends = [...new Set(listOf('--backend', raw, (flag, b) => oneOf(flag, b, BACKENDS)))];
  if (backends.includes('verbs')) {
    const problem = verbsProblem();
    if (problem !== null) throw new Error(problem);
  }
  return backends;
}

function optionsFrom(argv: Record<string, unknown>, backends: TransferBackendName[]): TransferBenchOptions {
  const quick = argv.quick === true;
  const flag = (name: string): string | undefined => rawFlag(argv, name);
  const pageBytes = byteSize('--page-bytes', flag('page-bytes') ?? '4KiB');
  if (pageBytes % 16 !== 0) throw new FlagError(`--page-bytes must be a multiple of 16 bytes (got "${flag('page-bytes')}")`);
  const sizes = listOf('--sizes', flag('sizes') ?? (quick ? QUICK_SIZES : DEFAULT_SIZES), byteSize);
  for (const size of sizes) if (size % pageBytes !== 0) throw new FlagError(`--sizes: ${formatBytes(size)} is not a multiple of --page-bytes ${formatBytes(pageBytes)}`);
  const peer = flag('peer');
  const iterations = flag('iterations');
  const maxPoolBytes = byteSize('--max-pool', flag('max-pool') ?? '512MiB');
  if (sizes.some((s) => s > maxPoolBytes)) throw new FlagError(`--max-pool (${formatBytes(maxPoolBytes)}) must hold at least the largest of --sizes`);
  return {
    backends,
    sizes,
    pageBytes,
    pattern: oneOf('--pattern', flag('pattern') ?? 'contiguous', PATTERNS),
    concurrency: positiveInteger('--concurrency', flag('concurrency') ?? (quick ? '2' : '4')),
    durationS: positiveSeconds('--duration', flag('duration') ?? (quick ? '0.2' : '2')),
    iterations: iterations === undefined ? null : positiveInteger('--iterations', iterations),
    rounds: positiveInteger('--rounds', flag('rounds') ?? (quick ? '1' : '4')),
    host: nonEmpty('--host', flag('host') ?? '127.0.0.1'),
    peer: peer === undefined ? null : peerOf(peer),
    iperf3: !quick && oneOf('--iperf3', flag('iperf3') ?? 'auto', ['auto', 'off'] as const) === 'auto',
    iperf3Seconds: positiveInteger('--iperf3-seconds', flag('iperf3-seconds') ?? '3'),
    ibWriteBw: !quick && oneOf('--ib-write-bw', flag('ib-write-bw') ?? 'auto', ['auto', 'off'] as const) === 'auto',
    writeTimeoutMs: positiveSeconds('--write-timeout', flag('write-timeout') ?? '30') * 1000,
    maxPoolBytes,
  };
}

async function run(argv: Record<string, unknown>): Promise<void> {
  const role = oneOf('--role', rawFlag(argv, 'role') ?? 'sender', ['sender', 'receiver'] as const);
  if (role === 'receiver') {
    return runReceiver(nonEmpty('--host', rawFlag(argv, 'host') ?? '127.0.0.1'), portNumber('--control-port', rawFlag(argv, 'control-port') ?? '0'), argv.once === true);
  }
  const json = rawFlag(argv, 'json');
  optionsFrom(argv, []); // every flag checked before anything starts
  const options = optionsFrom(argv, await resolveBackends(rawFlag(argv, 'backend') ?? 'auto'));
  const result = await runTransferBench(options, (row) => process.stderr.write(`pd-bench transfer: ${row.backend} ${formatBytes(row.size)} done\n`));
  process.stdout.write(formatTransferReport(result));
  if (json !== undefined) writeFileSync(nonEmpty('--json', json), `${JSON.stringify(result, null, 2)}\n`);
}

export const transferCommand: CommandModule = {
  command: 'transfer',
  describe: 'KV transfer between two processes per backend (GB/s, writes/s, latency, event-loop delay) against a plain copy or socket in the same run',
  builder: (y) => addFlags(y),
  handler: (argv) => run(argv),
};
