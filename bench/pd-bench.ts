#!/usr/bin/env node
/**
 * The `pd-bench` command (package bin): benchmarks of pd-node deployments, one subcommand each.
 * Exit status: 0 on success, 2 for a usage error (the message names the flag), 1 when the
 * benchmark itself failed.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { FlagError, PARSER_CONFIGURATION, usageError } from '../src/cli/flag-values.js';
import { serveCommand } from './serve/serve-command.js';

try {
  await yargs(hideBin(process.argv))
    .scriptName('pd-bench')
    .parserConfiguration(PARSER_CONFIGURATION)
    .command(serveCommand)
    .demandCommand(1, 'name a benchmark (pd-bench --help lists them)')
    .strict()
    .help()
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      throw usageError(msg, err);
    })
    .parseAsync();
} catch (err) {
  process.stderr.write(`pd-bench: ${err instanceof Error ? err.message : String(err)}${err instanceof FlagError ? "\nRun 'pd-bench --help' for the flags." : ''}\n`);
  process.exitCode = err instanceof FlagError ? 2 : 1;
}
