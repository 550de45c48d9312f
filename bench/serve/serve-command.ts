/**
 * `pd-bench serve` as a yargs command module (registered by bench/pd-bench.ts): an online serving
 * benchmark in the spirit of SGLang's bench_serving. Flags: serve-flags.ts; what it does:
 * run-serve.ts.
 */
import type { CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runServe } from './run-serve.js';
import { addServeFlags, serveConfigFrom } from './serve-flags.js';

export const serveCommand: CommandModule = {
  command: 'serve',
  describe: 'Online serving benchmark: a dataset at a request rate or concurrency against a PD or colocated deployment; TTFT, ITL, TPOT, E2E, throughput, goodput; JSON and HTML reports',
  builder: (y) => addServeFlags(y),
  handler: (argv) => runServe(serveConfigFrom(argv), ['pd-bench', ...hideBin(process.argv)]),
};
