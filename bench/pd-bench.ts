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
import { PARSER_CONFIGURATION } from '../src/cli/flag-values.js';
import { reportCliError, withToolDefaults } from '../src/cli/tool-cli.js';
import { routerCommand } from './router/router-command.js';
import { serveCommand } from './serve/serve-command.js';
import { transferCommand } from './transfer/transfer-command.js';

const cli = withToolDefaults(
  yargs(hideBin(process.argv))
    .scriptName('pd-bench')
    .parserConfiguration(PARSER_CONFIGURATION)
    .command(transferCommand)
    .command(serveCommand)
    .command(routerCommand)
    .demandCommand(1, 'name a benchmark: transfer, serve or router'),
);

try {
  await cli.parseAsync();
} catch (err) {
  reportCliError('pd-bench', err, 'pd-bench <command> --help');
}
