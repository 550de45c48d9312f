/**
 * A minimal WebAssembly binary encoder: the module sections and the few opcodes the reference kernels
 * use, so the kernels are generated from TypeScript at run time with no toolchain step.
 *
 * Decisions: instructions are plain byte arrays (nested arrays are flattened when emitted); every
 * function is exported under its name; the only import is one shared memory (`env.memory`), because
 * the KV pool and the weights live in a shared memory (it never detaches on growth and its buffer is a
 * SharedArrayBuffer that worker threads can map).
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

/** Instruction bytes, possibly nested (flattened by `FuncBuilder.emit`). */
export type Code = number | readonly Code[];

/** Unsigned LEB128 (sizes, indices, memarg offsets; values up to 2^32). */
function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    const byte = v % 128;
    v = Math.floor(v / 128);
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of an i32 (for i32.const). */
function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function f32Bytes(x: number): number[] {
  return [...new Uint8Array(new Float32Array([x]).buffer)];
}

const EMPTY_BLOCK = 0x40;
/** memarg alignment exponents (hints only: unaligned addresses stay valid). */
const ALIGN4 = 2;
const ALIGN16 = 4;

/** The opcodes the kernels need, named after the WebAssembly text format. */
export const ins = {
  block: [0x02, EMPTY_BLOCK],
  loop: [0x03, EMPTY_BLOCK],
  if: [0x04, EMPTY_BLOCK],
  end: [0x0b],
  br: (depth: number): Code => [0x0c, uleb(depth)],
  brIf: (depth: number): Code => [0x0d, uleb(depth)],
  call: (func: number): Code => [0x10, uleb(func)],
  localGet: (i: number): Code => [0x20, uleb(i)],
  localSet: (i: number): Code => [0x21, uleb(i)],
  i32Load: (offset = 0): Code => [0x28, ALIGN4, uleb(offset)],
  f32Load: (offset = 0): Code => [0x2a, ALIGN4, uleb(offset)],
  i32Store: (offset = 0): Code => [0x36, ALIGN4, uleb(offset)],
  f32Store: (offset = 0): Code => [0x38, ALIGN4, uleb(offset)],
  i32Const: (v: number): Code => [0x41, sleb(v)],
  f32Const: (x: number): Code => [0x43, f32Bytes(x)],
  i32Eq: [0x46],
  i32LtU: [0x49],
  i32GtU: [0x4b],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32And: [0x71],
  i32Shl: [0x74],
  i32ShrU: [0x76],
  f32Add: [0x92],
  f32Mul: [0x94],
  f32Max: [0x97],
  v128Load: (offset = 0): Code => [0xfd, 0x00, ALIGN16, uleb(offset)],
  v128Store: (offset = 0): Code => [0xfd, 0x0b, ALIGN16, uleb(offset)],
  /** Four u16 (8 bytes, 8-aligned) zero-extended to the i32 lanes. */
  v128Load16x4U: (offset = 0): Code => [0xfd, 0x04, 3, uleb(offset)],
  v128And: [0xfd, uleb(0x4e)],
  v128Or: [0xfd, uleb(0x50)],
  v128Zero: [0xfd, 0x0c, new Array<number>(16).fill(0)],
  /** v128.const with the f32 `x` in every lane. */
  f32x4Const: (x: number): Code => [0xfd, 0x0c, f32Bytes(x), f32Bytes(x), f32Bytes(x), f32Bytes(x)],
  /** v128.const with the i32 `v` in every lane. */
  i32x4Const: (v: number): Code => [0xfd, 0x0c, [...new Uint8Array(new Int32Array([v, v, v, v]).buffer)]],
  v128AndNot: [0xfd, uleb(0x4f)],
  v128Bitselect: [0xfd, uleb(0x52)],
  f32x4Lt: [0xfd, uleb(0x43)],
  f32x4Ge: [0xfd, uleb(0x46)],
  f32x4Abs: [0xfd, uleb(0xe0)],
  f32x4Neg: [0xfd, uleb(0xe1)],
  f32x4Floor: [0xfd, uleb(0x68)],
  i32x4Shl: [0xfd, uleb(0xab)],
  i32x4ShrU: [0xfd, uleb(0xad)],
  i32x4Add: [0xfd, uleb(0xae)],
  i32x4TruncSatF32x4S: [0xfd, uleb(0xf8)],
  f32x4Splat: [0xfd, 0x13],
  f32x4ExtractLane: (lane: number): Code => [0xfd, 0x1f, lane],
  f32x4Add: [0xfd, uleb(0xe4)],
  f32x4Sub: [0xfd, uleb(0xe5)],
  f32x4Mul: [0xfd, uleb(0xe6)],
  f32x4Div: [0xfd, uleb(0xe7)],
} as const;

function flatten(code: Code, out: number[]): void {
  if (typeof code === 'number') out.push(code);
  else for (const c of code) flatten(c, out);
}

/** One function: parameters are locals 0..params.length-1; `local()` appends more. */
export class FuncBuilder {
  private readonly locals: ValType[] = [];
  private readonly body: number[] = [];

  constructor(readonly name: string, readonly params: readonly ValType[], readonly results: readonly ValType[]) {}

  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  emit(...code: Code[]): void {
    flatten(code, this.body);
  }

  /** Body bytes: run-length coded local declarations, instructions, `end`. */
  encodeBody(): number[] {
    const groups: number[][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const bytes = [...uleb(groups.length), ...groups.flatMap(([n, t]) => [...uleb(n), t]), ...this.body, 0x0b];
    return [...uleb(bytes.length), ...bytes];
  }
}

function vec(items: readonly number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

/**
 * Encodes a module importing `env.memory` (shared, limits in 64 KiB pages) and exporting every
 * function of `funcs` by name; function i has index i (for `ins.call`).
 */
export function encodeModule(memory: { minPages: number; maxPages: number }, funcs: readonly FuncBuilder[]): Uint8Array {
  const sigs: string[] = [];
  const typeIndex = funcs.map((f) => {
    const sig = JSON.stringify([f.params, f.results]);
    if (!sigs.includes(sig)) sigs.push(sig);
    return sigs.indexOf(sig);
  });
  const types = sigs.map((s) => {
    const [params, results] = JSON.parse(s) as [number[], number[]];
    return [0x60, ...uleb(params.length), ...params, ...uleb(results.length), ...results];
  });
  const SHARED_WITH_MAX = 0x03;
  const memoryImport = [...name('env'), ...name('memory'), 0x02, SHARED_WITH_MAX, ...uleb(memory.minPages), ...uleb(memory.maxPages)];
  const exports = funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport])),
    ...section(3, vec(typeIndex.map((t) => uleb(t)))),
    ...section(7, vec(exports)),
    ...section(10, vec(funcs.map((f) => f.encodeBody()))),
  ]);
}
