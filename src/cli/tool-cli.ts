/**
 * What the package's command-line tools (pd-node, pd-bench) share: the yargs settings after their
 * commands (strict, version, help, width, usage errors thrown as FlagErrors), and how they end on
 * an error: the message on stderr, and exit status 2 for a usage error (bad, unknown, repeated or
 * missing flag; the message names the flag) or 1 when the work itself failed.
 */
import type { Argv } from 'yargs';
import { VERSION } from '../server/version.js';
import { FlagError, usageError } from './flag-values.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Applies the shared settings to a tool's parser, after its commands. */
export function withToolDefaults<T>(y: Argv<T>): Argv<T> {
  return (
    y
      .strict()
      .version(VERSION)
      .help()
      .alias('h', 'help')
      .wrap(Math.min(120, process.stdout.columns ?? 100))
      // yargs' own usage errors come as `msg`, a command's errors as `err`. Throwing is what stops
      // yargs: a fail handler that returns lets the command run anyway.
      .fail((msg, err) => {
        throw usageError(msg, err);
      })
  );
}

/** Reports `err` for the tool `name`; `helpHint` is the command line that lists the flags. */
export function reportCliError(name: string, err: unknown, helpHint: string): void {
  const usage = err instanceof FlagError;
  const hint = usage ? `\nRun '${helpHint}' for the flags.` : '';
  process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}${hint}\n`);
  process.exitCode = usage ? EXIT_USAGE : EXIT_FAILURE;
}
