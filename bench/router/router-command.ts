/**
 * `pd-bench router`: flags, then the benchmark (router-run.ts), or with `--role upstream` only the
 * instant nodes (to run them on another host and pass their URLs as --prefill / --decode).
 * Flags are strings parsed with the CLI's parsers, so errors name the flag; --help lists every flag
 * with its default; `--quick` (for tests) runs concurrencies 1,16, one open-loop rate and the
 * one-worker router, a fraction of a second each.
 */
import { writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { FlagError, nonEmpty, oneOf, portNumber, positiveInteger, positiveSeconds } from '../../src/cli/flag-values.js';
import { waitForStopSignal } from '../../src/cli/wait-for-signal.js';
import { httpUrl } from '../../src/router/upstream-node.js';
import { pinningUnavailable } from '../cpu-pin.js';
import { addStringFlags, flagReader, positiveIntegers, quickValues, type BenchFlag, type FlagReader } from '../bench-flags.js';
import { formatMachine } from '../machine.js';
import { fixed, formatTable } from '../table.js';
import { startInstantNode } from './instant-node.js';
import { BENCH_CPU, PROXY_CPU, runRouterBench, type RouterBenchOptions, type RouterBenchResult } from './router-run.js';

const FLAGS: Record<string, BenchFlag> = {
  role: { describe: 'bench runs the benchmark; upstream only serves the instant prefill and decode nodes (for another host)', default: 'bench' },
  concurrency: { describe: 'Comma-separated numbers of clients in the closed loop', default: '1,16,64,256', quick: '1,16' },
  rate: { describe: 'Comma-separated offered loads (req/s) of the open loop (fixed rate; latency from each request\'s due time)', default: '500,1000', quick: '100' },
  'open-connections': { describe: 'Open loop: most connections per target (requests beyond wait, and the wait counts)', default: '256' },
  workers: { describe: 'Comma-separated router --workers counts to measure (nginx gets as many worker processes)', default: '1,2', quick: '1' },
  nginx: { describe: 'on: measure nginx proxying to the decode node when nginx is on PATH (skipped with a message otherwise); off: do not', default: 'on' },
  duration: { describe: 'Seconds per concurrency, direct and through the router each', default: '3', quick: '0.3' },
  warmup: { describe: 'Seconds of uncounted requests before each measurement', default: '0.5', quick: '0.1' },
  host: { describe: 'Address the router (and the instant nodes) listen on', default: '127.0.0.1' },
  prefill: { describe: 'URL of an instant prefill node already running (with --decode)', absent: 'start one here' },
  decode: { describe: 'URL of an instant decode node already running (with --prefill)', absent: 'start one here' },
  'prefill-port': { describe: 'Upstream role: port of the instant prefill node', default: '30000' },
  'decode-port': { describe: 'Upstream role: port of the instant decode node', default: '30001' },
  'request-timeout': { describe: 'Seconds a request may take before it counts as an error', default: '30' },
  pin: { describe: 'on: run each proxy (nginx, the router) alone on CPU 1 and the load generator and instant nodes on CPU 0 (taskset), for per-core figures', default: 'off' },
  json: { describe: 'Also write the results as JSON to this file', absent: 'none' },
};

function addFlags(y: Argv): Argv {
  return addStringFlags(y, FLAGS).option('quick', { type: 'boolean', describe: `Small and fast (for tests): ${quickValues(FLAGS)}`, default: false });
}

function urlFlag(flag: string, raw: string): string {
  if (httpUrl(raw) === null) throw new FlagError(`${flag} must be an http(s) URL (got "${raw}")`);
  return raw.replace(/\/+$/, '');
}

function optionsFrom({ given, value }: FlagReader): RouterBenchOptions {
  const prefill = given('prefill');
  const decode = given('decode');
  if ((prefill === undefined) !== (decode === undefined)) throw new FlagError('--prefill and --decode go together (instant nodes started elsewhere), or neither');
  const pin = oneOf('--pin', value('pin'), ['on', 'off'] as const) === 'on';
  const unpinnable = pin ? pinningUnavailable() : null;
  if (unpinnable !== null) throw new FlagError(`--pin on cannot be done here: ${unpinnable}`);
  return {
    concurrencies: positiveIntegers('--concurrency', value('concurrency')),
    rates: positiveIntegers('--rate', value('rate')),
    openConnections: positiveInteger('--open-connections', value('open-connections')),
    workers: positiveIntegers('--workers', value('workers')),
    nginx: oneOf('--nginx', value('nginx'), ['on', 'off'] as const) === 'on',
    durationS: positiveSeconds('--duration', value('duration')),
    warmupS: positiveSeconds('--warmup', value('warmup')),
    host: nonEmpty('--host', value('host')),
    upstream: prefill === undefined ? null : { prefill: urlFlag('--prefill', prefill), decode: urlFlag('--decode', decode!) },
    bootstrapPort: 8998,
    requestTimeoutMs: positiveSeconds('--request-timeout', value('request-timeout')) * 1000,
    pin,
  };
}

const HEADER = ['mode', 'load', 'target', 'req/s', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms', 'x nginx', 'CPU us/req', 'CPU busy', 'req/s per CPU', 'x nginx per CPU', 'errors'];

function formatRouterReport(r: RouterBenchResult): string {
  const rows = r.rows.map((row) => [
    row.mode,
    row.mode === 'closed' ? `${row.load} clients` : `${row.load} req/s`,
    row.target,
    fixed(row.reqPerSec, 0),
    fixed(row.p50Ms, 3),
    fixed(row.p99Ms, 3),
    fixed(row.addedP50Ms, 3),
    fixed(row.addedP99Ms, 3),
    fixed(row.vsNginx, 2),
    fixed(row.cpuUsPerRequest, 0),
    fixed(row.cpuShare, 2),
    // Requests per CPU second the target used: its throughput per core.
    fixed(row.cpuUsPerRequest === null ? null : 1e6 / row.cpuUsPerRequest, 0),
    fixed(row.vsNginxPerCpu, 2),
    String(row.errors),
  ]);
  return (
    `pd-bench router: POST /generate, ${r.options.durationS} s per target and load; direct = the decode node ${r.upstream.decode}; ` +
    `nginx = nginx proxying to it${r.nginxSkipped === null ? '' : ` (skipped: ${r.nginxSkipped})`}; router xN = pd-node --role router --workers N\n` +
    (r.options.pin ? `pinned: each proxy alone on CPU ${PROXY_CPU}, load generator and instant nodes on CPU ${BENCH_CPU} (other work on the machine still shares both)\n` : '') +
    `${formatMachine(r.machine)}\n` +
    formatTable(HEADER, rows)
  );
}

async function serveUpstream({ value }: FlagReader): Promise<void> {
  const host = nonEmpty('--host', value('host'));
  const nodes = [
    await startInstantNode('prefill', host, portNumber('--prefill-port', value('prefill-port'))),
    await startInstantNode('decode', host, portNumber('--decode-port', value('decode-port'))),
  ];
  process.stdout.write(`--prefill ${nodes[0].url} --decode ${nodes[1].url}\n`);
  await waitForStopSignal();
  for (const node of nodes) node.close();
}

async function run(argv: Record<string, unknown>): Promise<void> {
  const flags = flagReader(argv, FLAGS);
  const role = oneOf('--role', flags.value('role'), ['bench', 'upstream'] as const);
  if (role === 'upstream') return serveUpstream(flags);
  const options = optionsFrom(flags);
  const json = flags.given('json');
  const result = await runRouterBench(options, (row) => process.stderr.write(`pd-bench router: ${row.mode} loop, ${row.load}, ${row.target} done\n`));
  process.stdout.write(formatRouterReport(result));
  if (json !== undefined) writeFileSync(nonEmpty('--json', json), `${JSON.stringify(result, null, 2)}\n`);
  const errors = result.rows.reduce((n, r) => n + r.errors, 0);
  if (errors > 0) throw new Error(`${errors} requests failed (see the errors column)`);
}

export const routerCommand: CommandModule = {
  command: 'router',
  describe: 'Router throughput (req/s), added latency (p50/p99) and CPU per request against upstream nodes that answer at once, closed and open loop, next to nginx and direct',
  builder: (y) => addFlags(y),
  handler: (argv) => run(argv),
};
