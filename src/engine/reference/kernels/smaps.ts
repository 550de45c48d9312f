/**
 * One field of the mappings of /proc/self/smaps that overlap an address range: Linux's only account
 * of which pages of a mapping are huge pages (AnonHugePages) and whether a mapping may get them
 * (THPeligible). huge-pages.ts sums the first for the engine's report; the huge-pages test checks the
 * second.
 *
 * Decisions: the file's text is a parameter (read when not given) so the parsing is tested on a fixed
 * text; each mapping is a header line `from-to perms ...` followed by `Field:   value [kB]` lines, and a
 * field's value is its first number, as smaps prints it (kB for sizes, 0/1 for flags). Read once per
 * engine or test, never on a step.
 */
import { readFileSync } from 'node:fs';

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) /;
const FIELD = /^([A-Za-z_]+):\s+(\d+)/;

/** `field`'s value in every mapping of `smaps` that overlaps [address, address + bytes), in file order. */
export function smapsField(field: string, address: bigint, bytes: number, smaps = readFileSync('/proc/self/smaps', 'utf8')): number[] {
  const end = address + BigInt(bytes);
  const values: number[] = [];
  let inside = false;
  for (const line of smaps.split('\n')) {
    const range = HEADER.exec(line);
    if (range) {
      inside = BigInt(`0x${range[1]}`) < end && BigInt(`0x${range[2]}`) > address;
      continue;
    }
    const f = inside ? FIELD.exec(line) : null;
    if (f && f[1] === field) values.push(Number(f[2]));
  }
  return values;
}
