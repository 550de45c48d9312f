/**
 * Transparent huge pages for the kernels' memory (kernels/huge-pages.ts): a new WasmArena asks for
 * them before anything is written, grows to whole huge pages of the address space, and the host
 * backs what is written with them (read from /proc/self/smaps, as the engine's start-up report does);
 * the report of a native engine says so, the JS kernel's has none. Skips where the native library
 * cannot run or the host has THP off (`never`): nothing is advised there by design.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import koffi from 'koffi';
import { HUGE_PAGE_BYTES, hugePageBytes, hugePageBytesIn } from '../../src/engine/reference/kernels/huge-pages.js';
import { smapsField } from '../../src/engine/reference/kernels/smaps.js';
import { WasmArena } from '../../src/engine/reference/kernels/wasm-arena.js';
import { makeEngine, nativeSkip, SETUPS } from './engine-harness.js';

const THP = '/sys/kernel/mm/transparent_hugepage/enabled';
const thpOff = !existsSync(THP) ? 'no transparent huge pages in this kernel' : /\[never\]/.test(readFileSync(THP, 'utf8')) ? 'transparent huge pages are off (never)' : false;
const skip = nativeSkip || thpOff;

test('a new arena asks for huge pages, grows to whole ones, and what it writes may be backed by them', { skip }, (t) => {
  const arena = new WasmArena();
  assert.equal(arena.hugePageAdvice, 'advised');
  const bytes = 8 * HUGE_PAGE_BYTES;
  arena.allocF32(bytes / 4).fill(1);
  const base = koffi.address(new Uint8Array(arena.memory.buffer)) as bigint;
  assert.equal((base + BigInt(arena.memory.buffer.byteLength)) % BigInt(HUGE_PAGE_BYTES), 0n, 'the memory ends on a huge page boundary');
  // The advice is a flag on the mappings (deterministic); whether the host then finds free 2 MiB
  // blocks depends on its memory's fragmentation, so the grant is reported, not asserted.
  assert.ok(thpEligible(base, arena.memory.buffer.byteLength), 'every mapping of the memory is eligible for huge pages');
  t.diagnostic(`${hugePageBytes(arena.memory)} of ${bytes} written bytes on huge pages`);
});

/** Whether every mapping overlapping [address, address + bytes) says `THPeligible: 1` in /proc/self/smaps. */
function thpEligible(address: bigint, bytes: number): boolean {
  const flags = smapsField('THPeligible', address, bytes);
  return flags.length > 0 && flags.every((f) => f === 1);
}

test('an arena on another arena\'s memory (a --tp rank thread) does not advise again', () => {
  assert.equal(new WasmArena(new WasmArena().memory).hugePageAdvice, null);
});

test('the engine reports its huge pages once the weights are in: native advised, the JS kernel none', { skip }, () => {
  const native = makeEngine(SETUPS[3]).engine.hugePages;
  assert.equal(native?.advice, 'advised');
  assert.ok(native.memoryBytes > 0 && native.grantedBytes <= native.memoryBytes);
  assert.equal(makeEngine(SETUPS[2]).engine.hugePages, null);
});

test('huge page bytes of a range count only the mappings overlapping it; other smaps fields parse the same way', () => {
  const smaps = [
    '7f0000000000-7f0000200000 rw-p 00000000 00:00 0',
    'AnonHugePages:      2048 kB',
    '7f0000200000-7f0000600000 rw-p 00000000 00:00 0',
    'Rss:                4096 kB',
    'AnonHugePages:      4096 kB',
    '7f0000600000-7f0000800000 rw-p 00000000 00:00 0',
    'AnonHugePages:      2048 kB',
  ].join('\n');
  assert.equal(hugePageBytesIn(0x7f0000200000n, 0x400000, smaps), 4096 * 1024);
  assert.equal(hugePageBytesIn(0x7f0000100000n, 0x200000, smaps), (2048 + 4096) * 1024);
  assert.equal(hugePageBytesIn(0x7f0000800000n, 0x200000, smaps), 0);
  const flags = smaps.replace(/AnonHugePages: +(\d+) kB/g, (_, kB: string) => `THPeligible:    ${kB === '4096' ? 0 : 1}`);
  assert.deepEqual(smapsField('THPeligible', 0x7f0000000000n, 0x800000, flags), [1, 0, 1], 'a flag field of each mapping, in order');
  assert.deepEqual(smapsField('Rss', 0x7f0000000000n, 0x200000, smaps), [], 'a field the overlapping mappings lack');
});
