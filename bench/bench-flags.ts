/**
 * What the benchmarks add to the CLI's flag handling (src/cli/flag-values.ts): a table of string
 * flags (declared for yargs, read back with their defaults and --quick defaults), and value parsers
 * for byte sizes with KiB / MiB / GiB suffixes and comma-separated lists, each error naming the flag
 * and quoting the value.
 */
import type { Argv } from 'yargs';
import { FlagError, positiveInteger, rawFlag } from '../src/cli/flag-values.js';

/**
 * A benchmark's value flag: what --help says of it and the value it takes when absent. One table per
 * command drives both --help and the parsing, so the two cannot disagree.
 */
export interface BenchFlag {
  describe: string;
  /** The value when the flag is absent (none: the flag is optional, see `absent`). */
  default?: string;
  /** The value under --quick when the flag is absent (none: `default`). */
  quick?: string;
  /** What --help says its absence means, for a flag without a default value. */
  absent?: string;
}

/**
 * Declares `flags` as string options (values are parsed by the command, so errors name the flag and
 * quote the value), with the defaults --help shows.
 */
export function addStringFlags<T>(y: Argv<T>, flags: Readonly<Record<string, BenchFlag>>): Argv<T> {
  for (const [name, f] of Object.entries(flags)) {
    const shown = f.default === undefined ? f.absent : f.quick === undefined ? f.default : `${f.default}, --quick: ${f.quick}`;
    y = y.option(name, { type: 'string', requiresArg: true, describe: f.describe, defaultDescription: shown }) as Argv<T>;
  }
  return y;
}

/** "--sizes 4KiB,1MiB, --duration 0.2": what --quick changes, for its --help line. */
export function quickValues(flags: Readonly<Record<string, BenchFlag>>): string {
  return Object.entries(flags)
    .filter(([, f]) => f.quick !== undefined)
    .map(([name, f]) => `--${name} ${f.quick}`)
    .join(', ');
}

export interface FlagReader {
  /** The raw value given (undefined when absent; a repeated flag is a FlagError). */
  given(name: string): string | undefined;
  /** The raw value given, or else the table's default (its --quick one under --quick). */
  value(name: string): string;
}

export function flagReader(argv: Record<string, unknown>, flags: Readonly<Record<string, BenchFlag>>): FlagReader {
  const quick = argv.quick === true;
  const given = (name: string): string | undefined => rawFlag(argv, name);
  return {
    given,
    value(name) {
      const f = flags[name];
      const fallback = quick && f.quick !== undefined ? f.quick : f.default;
      if (fallback === undefined) throw new Error(`bench flag --${name} has no default`);
      return given(name) ?? fallback;
    },
  };
}

const UNITS: Record<string, number> = { '': 1, B: 1, KiB: 1 << 10, MiB: 1 << 20, GiB: 1 << 30 };

/** "4096", "4KiB", "64MiB", "1GiB": a positive whole number of bytes. */
export function byteSize(flag: string, raw: string): number {
  const m = /^(\d+)(B|KiB|MiB|GiB)?$/.exec(raw.trim());
  const bytes = m ? Number(m[1]) * UNITS[m[2] ?? ''] : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new FlagError(`${flag} must be a size in bytes such as 4096, 4KiB or 64MiB (got "${raw}")`);
  return bytes;
}

/** A comma-separated list, each item parsed by `item`; empty items are errors. */
export function listOf<T>(flag: string, raw: string, item: (flag: string, raw: string) => T): T[] {
  const parts = raw.split(',');
  if (parts.some((p) => p.trim() === '')) throw new FlagError(`${flag} must be a comma-separated list without empty items (got "${raw}")`);
  return parts.map((p) => item(flag, p.trim()));
}

export const positiveIntegers = (flag: string, raw: string): number[] => listOf(flag, raw, positiveInteger);

/** 4096 -> "4KiB", 1572864 -> "1.5MiB". */
export function formatBytes(bytes: number): string {
  for (const unit of ['GiB', 'MiB', 'KiB'] as const) {
    const n = bytes / UNITS[unit];
    if (n >= 1) return `${Number(n.toFixed(2))}${unit}`;
  }
  return `${bytes}B`;
}
