#!/usr/bin/env node
/**
 * The `pd-bench` command (the package's second bin): benchmarks as subcommands, one module each.
 *   pd-bench transfer   KV transfer between two processes per backend, against plain copies and sockets
 *   pd-bench serve      a serving load (TTFT, ITL, TPOT, goodput) against a deployment, PD vs colocated
 *   pd-bench router     router throughput and added latency against upstream nodes that answer at once
 * Exit status as for pd-node: 0 on success, 2 for a usage error (the message names the flag), 1 when
 * the benchmark itself failed (a transfer error, bytes that did not verify, no RDMA when asked for verbs).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { FlagError, PARSER_CONFIGURATION, usageError } from '../src/cli/flag-values.js';
import { VERSION } from '../src/server/version.js';
import { routerCommand } from './router/router-command.js';
import { serveCommand } from './serve/serve-command.js';
import { transferCommand } from './transfer/transfer-command.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function report(err: unknown): void {
  const usage = err instanceof FlagError;
  const hint = usage ? "\nRun 'pd-bench <command> --help' for the flags." : '';
  process.stderr.write(`pd-bench: ${err instanceof Error ? err.message : String(err)}${hint}\n`);
  process.exitCode = usage ? EXIT_USAGE : EXIT_FAILURE;
}

const cli = yargs(hideBin(process.argv))
  .scriptName('pd-bench')
  .parserConfiguration(PARSER_CONFIGURATION)
  .command(transferCommand)
  .command(serveCommand)
  .command(routerCommand)
  .demandCommand(1, 'name a benchmark: transfer, serve or router')
  .strict()
  .version(VERSION)
  .help()
  .alias('h', 'help')
  .wrap(Math.min(120, process.stdout.columns ?? 100))
  .fail((msg, err) => {
    throw usageError(msg, err);
  });

try {
  await cli.parseAsync();
} catch (err) {
  report(err);
}
