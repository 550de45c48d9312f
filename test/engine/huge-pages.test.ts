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
import { WasmArena } from '../../src/engine/reference/kernels/wasm-arena.js';
import { makeEngine, nativeSkip, SETUPS } from './engine-harness.js';

const THP = '/sys/kernel/mm/transparent_hugepage/enabled';
const thpOff = !existsSync(THP) ? 'no transparent huge pages in this kernel' : /\[never\]/.test(readFileSync(THP, 'utf8')) ? 'transparent huge pages are off (never)' : false;
const skip = nativeSkip || thpOff;

test('a new arena asks for huge pages, grows to whole ones, and what it writes is backed by them', { skip }, () => {
  const arena = new WasmArena();
  assert.equal(arena.hugePageAdvice, 'advised');
  const bytes = 8 * HUGE_PAGE_BYTES;
  arena.allocF32(bytes / 4).fill(1);
  const base = koffi.address(new Uint8Array(arena.memory.buffer)) as bigint;
  assert.equal((base + BigInt(arena.memory.buffer.byteLength)) % BigInt(HUGE_PAGE_BYTES), 0n, 'the memory ends on a huge page boundary');
  const granted = hugePageBytes(arena.memory);
  // all of it but the part before the memory's first 2 MiB boundary (V8 places it on 64 KiB ones)
  assert.ok(granted >= bytes - HUGE_PAGE_BYTES, `${granted} of ${bytes} written bytes on huge pages`);
});

test('an arena on another arena\'s memory (a --tp rank thread) does not advise again', () => {
  assert.equal(new WasmArena(new WasmArena().memory).hugePageAdvice, null);
});

test('the engine reports its huge pages once the weights are in: native advised, the JS kernel none', { skip }, () => {
  const native = makeEngine(SETUPS[3]).engine.hugePages;
  assert.equal(native?.advice, 'advised');
  assert.ok(native.memoryBytes > 0 && native.grantedBytes <= native.memoryBytes);
  assert.equal(makeEngine(SETUPS[2]).engine.hugePages, null);
});

test('huge page bytes of a range count only the mappings overlapping it', () => {
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
});
