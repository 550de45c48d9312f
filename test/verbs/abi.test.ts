/**
 * ABI check of the libibverbs bindings: abi-probe.c, compiled against the installed
 * `<infiniband/verbs.h>`, prints the size, alignment and member offsets/sizes of every struct the
 * koffi definitions declare, every constant they use and whether each bound symbol resolves to the
 * version a C program links. Each must equal what koffi computes from native/verbs, one for one: a
 * fact on one side only is a failure too (a member added to the bindings without a C counterpart).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { TypeObject } from 'koffi';
import * as constants from '../../native/verbs/constants.js';
import { SYMBOLS } from '../../native/verbs/library.js';
import { ABI_TYPES } from '../../native/verbs/types.js';
import { CBuild } from './c-compiler.js';

type Facts = Map<string, string>;

/** The `type`/`field` facts of one koffi struct, descending into members that are not ABI types themselves. */
function typeFacts(type: TypeObject, facts: Facts): void {
  facts.set(`type ${type.name}`, `${type.size} ${type.alignment}`);
  const walk = (t: TypeObject, prefix: string, base: number): void => {
    for (const [name, member] of Object.entries(t.members ?? {})) {
      const path = `${prefix}.${name}`;
      const offset = base + member.offset;
      facts.set(`field ${path}`, `${offset} ${member.type.size}`);
      const nested = member.type.primitive === 'Record' || member.type.primitive === 'Union';
      if (nested && !ABI_TYPES.includes(member.type)) walk(member.type, path, offset);
    }
  };
  walk(type, type.name, 0);
}

function koffiFacts(): { types: Facts; constants: Facts; symbols: Facts } {
  const types: Facts = new Map();
  for (const type of ABI_TYPES) typeFacts(type, types);
  const consts: Facts = new Map();
  for (const group of Object.values(constants)) {
    if (typeof group !== 'object') continue;
    for (const [name, value] of Object.entries(group)) consts.set(`const ${name}`, String(value));
  }
  const symbols: Facts = new Map(SYMBOLS.map((s) => [`symbol ${s}`, 'same']));
  return { types, constants: consts, symbols };
}

function probeFacts(output: string): { types: Facts; constants: Facts; symbols: Facts } {
  const all = { types: new Map(), constants: new Map(), symbols: new Map() } as { types: Facts; constants: Facts; symbols: Facts };
  for (const line of output.trim().split('\n')) {
    const [kind, name, ...rest] = line.split(' ');
    const bucket = kind === 'type' || kind === 'field' ? all.types : kind === 'const' ? all.constants : all.symbols;
    bucket.set(`${kind} ${name}`, rest.join(' '));
  }
  return all;
}

/** Every key whose value differs, or that one side lacks, as readable lines. */
function differences(koffi: Facts, c: Facts): string[] {
  const keys = new Set([...koffi.keys(), ...c.keys()]);
  return [...keys].filter((k) => koffi.get(k) !== c.get(k)).map((k) => `${k}: koffi ${koffi.get(k) ?? '(none)'}, C ${c.get(k) ?? '(none)'}`);
}

describe('libibverbs ABI', () => {
  const build = new CBuild();
  let c: ReturnType<typeof probeFacts>;
  const k = koffiFacts();

  before(() => {
    const probe = build.compile('abi-probe.c', 'abi-probe', ['-fPIE', '-pie'], ['-libverbs', '-ldl']);
    const r = spawnSync(probe, { encoding: 'utf8' });
    assert.equal(r.status, 0, `abi-probe failed: ${r.stderr}`);
    c = probeFacts(r.stdout);
  });
  after(() => build.remove());

  test('every struct the bindings declare has the C size, alignment and member offsets', () => {
    // Nested anonymous members are compared too; named nested structs are compared on their own.
    assert.ok(k.types.has('field ibv_send_wr.wr.rdma.rkey'));
    assert.ok(k.types.has('field ibv_context_ops.post_send') && !k.types.has('field ibv_context.ops.post_send'));
    assert.deepEqual(differences(k.types, c.types), []);
  });

  test('every constant the bindings use has its C value', () => {
    assert.equal(k.constants.get('const __VERBS_ABI_IS_EXTENDED'), '18446744073709551615');
    assert.deepEqual(differences(k.constants, c.constants), []);
  });

  test('every bound symbol resolves to the version a C program links (not a compatibility one)', () => {
    assert.equal(k.symbols.size, SYMBOLS.length);
    assert.deepEqual(differences(k.symbols, c.symbols), []);
  });

  test('the comparison catches a difference', () => {
    const shifted = new Map(c.types);
    shifted.set('field ibv_wc.imm_data', '28 4');
    assert.deepEqual(differences(k.types, shifted), ['field ibv_wc.imm_data: koffi 24 4, C 28 4']);
  });
});
