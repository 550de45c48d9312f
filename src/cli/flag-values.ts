/**
 * Parsers for command-line flag values. yargs hands every value over as the raw string (options are
 * declared `type: 'string'`), so a bad value can be quoted back exactly: "--page-size must be a
 * positive integer (got "abc")". A `FlagError` is a usage error: the CLI exits with status 2.
 */
import type { Argv } from 'yargs';
import { etcdAccessProblem, type EtcdAccess } from '../membership/etcd-access.js';
import { etcdHosts, isEtcdUrl } from '../membership/etcd-url.js';
import { decimalIntegerIn } from '../util/decimal-integer.js';

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

/** `run()`, any error it throws turned into a FlagError (a descriptor's parser names the flag in its message). */
export function asFlagError<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
}

/**
 * The error for a yargs failure: its own usage errors come as a message or as a YError (e.g. a flag
 * without its value) and become FlagErrors; anything else (a command's own error) passes through.
 */
export function usageError(msg: string | undefined, err: Error | undefined): Error {
  if (err === undefined || err === null) return new FlagError(msg ?? 'invalid command line');
  return err.name === 'YError' ? new FlagError(err.message) : err;
}

/** yargs-parser settings for every pd-node command: dash-case only, so messages name flags once. */
export const PARSER_CONFIGURATION = Object.freeze({ 'camel-case-expansion': false });

/**
 * Parses the flags declared on `y` the pd-node way: dash-case only, unknown flags refused, no
 * version flag, no exit: every problem throws (usage problems as FlagErrors naming the flag).
 */
export function parseStrictly<T>(y: Argv<T>): ReturnType<Argv<T>['parseSync']> {
  return y
    .parserConfiguration(PARSER_CONFIGURATION)
    .strict()
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw usageError(msg, err);
    })
    .parseSync();
}

export function integerIn(flag: string, raw: string, min: number, max: number, what: string): number {
  const value = decimalIntegerIn(raw, min, max);
  if (value === null) throw new FlagError(`${flag} must be ${what} (got "${raw}")`);
  return value;
}

export function positiveInteger(flag: string, raw: string): number {
  return integerIn(flag, raw, 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
}

export function portNumber(flag: string, raw: string): number {
  return integerIn(flag, raw, 0, 65535, 'a port number from 0 (any free port) to 65535');
}

/** Seconds > 0, fractions allowed (timeouts). */
export function positiveSeconds(flag: string, raw: string): number {
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(value > 0) || value > 86400) throw new FlagError(`${flag} must be a number of seconds in (0, 86400] (got "${raw}")`);
  return value;
}

/** A ZeroMQ TCP address, tcp://HOST:PORT. */
export function tcpUrl(flag: string, raw: string): string {
  const m = /^tcp:\/\/([^:\s/]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new FlagError(`${flag} must look like tcp://HOST:PORT (got "${raw}")`);
  return raw;
}

/** Where membership lives: the ZeroMQ registry (tcp://HOST:PORT) or etcd (etcd://HOST:PORT[,HOST:PORT...]). */
export function registryUrl(flag: string, raw: string): string {
  if (!isEtcdUrl(raw)) return tcpUrl(flag, raw);
  try {
    etcdHosts(raw);
  } catch (err) {
    throw new FlagError(`${flag}: ${(err as Error).message}`);
  }
  return raw;
}

/** The etcd credential flags, named as etcdctl names them, for nodes and routers alike. */
export const ETCD_ACCESS_FLAGS: readonly { name: string; field: keyof EtcdAccess; arg: string; describe: string }[] = [
  { name: 'etcd-user', field: 'user', arg: 'NAME:PASSWORD', describe: "etcd membership: authenticate as this etcd user (etcdctl's --user)." },
  { name: 'etcd-cacert', field: 'cacert', arg: 'FILE', describe: "etcd membership: CA bundle of the members' certificates; talk TLS (etcdctl's --cacert)." },
  { name: 'etcd-cert', field: 'cert', arg: 'FILE', describe: "etcd membership: client certificate, with --etcd-key (etcdctl's --cert)." },
  { name: 'etcd-key', field: 'key', arg: 'FILE', describe: "etcd membership: the client certificate's key (etcdctl's --key)." },
];

/** Checks the etcd credentials given against the membership URL; throws a FlagError. */
export function checkEtcdAccess(access: Readonly<EtcdAccess>, url: string | null): void {
  const given = Object.values(access).some((v) => v !== null);
  if (given && (url === null || !isEtcdUrl(url))) throw new FlagError('--etcd-* flags apply to --registry-url etcd://...');
  const problem = etcdAccessProblem(access);
  if (problem !== null) throw new FlagError(problem);
}

export function nonEmpty(flag: string, raw: string): string {
  if (raw.trim() === '') throw new FlagError(`${flag} needs a non-empty value`);
  return raw;
}

export function oneOf<T extends string>(flag: string, raw: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) throw new FlagError(`${flag} must be one of ${choices.join(', ')} (got "${raw}")`);
  return raw as T;
}

/** The raw string of a flag yargs parsed (undefined when absent); a repeated flag is an error, not "last wins". */
export function rawFlag(argv: Record<string, unknown>, name: string): string | undefined {
  const raw = argv[name];
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) throw new FlagError(`--${name} was given more than once`);
  return String(raw);
}
