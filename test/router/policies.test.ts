/**
 * The load-balancing policies, each choice checked with an injected random source; then the policies
 * inside a router: round-robin pairs over 2 x 3 and 2 x 2 clusters, and least_load steering around a
 * node that holds a request.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPairPolicy, createPolicy, type RandomSource } from '../../src/router/policies.js';
import { post, startCluster } from './cluster.js';
import { goodDecode, goodPrefill, hanging, RoomBoard } from './fake-pd-node.js';

const node = (name: string, load = 0) => ({ name, load });

/** Returns the given values in order and fails the test if asked for more. */
function scripted(...values: number[]): RandomSource {
  return () => {
    const v = values.shift();
    assert.ok(v !== undefined, 'the policy drew more random numbers than expected');
    return v;
  };
}

describe('policies', () => {
  test('round_robin cycles through the candidates in order, following membership changes', () => {
    const p = createPolicy('round_robin', scripted());
    const abc = [node('a'), node('b'), node('c')];
    assert.deepEqual([1, 2, 3, 4].map(() => p.pick(abc).name), ['a', 'b', 'c', 'a']);
    assert.deepEqual([1, 2].map(() => p.pick([node('x'), node('y')]).name), ['x', 'y'], 'turns 4 and 5 over 2 candidates');
  });

  test('round_robin pairs use every prefill x decode pairing once per P x D turns, each role in turn', () => {
    for (const [P, D] of [[2, 2], [2, 3], [3, 3], [2, 4], [4, 6], [1, 3], [3, 1]]) {
      const p = createPairPolicy({ prefill: 'round_robin', decode: 'round_robin' }, scripted());
      const prefill = Array.from({ length: P }, (_, i) => node(`p${i}`));
      const decode = Array.from({ length: D }, (_, i) => node(`d${i}`));
      const pairs = Array.from({ length: P * D }, () => p.pick(prefill, decode)).map(({ prefill: a, decode: b }) => `${a.name}-${b.name}`);
      assert.equal(new Set(pairs).size, P * D, `${P} x ${D}: every pairing once (${pairs.join(' ')})`);
      // Each role still rotates evenly: every node of a role gets the same share of the turns.
      for (const [role, n] of [['p', D], ['d', P]] as const) {
        const counts = new Map<string, number>();
        for (const pair of pairs) for (const name of pair.split('-').filter((x) => x.startsWith(role))) counts.set(name, (counts.get(name) ?? 0) + 1);
        assert.deepEqual(new Set(counts.values()), new Set([n]), `${P} x ${D}: ${role} nodes evenly used`);
      }
    }
    const p = createPairPolicy({ prefill: 'round_robin', decode: 'round_robin' }, scripted());
    const two = [node('a'), node('b')];
    assert.deepEqual([1, 2, 3, 4].map(() => { const x = p.pick(two, two); return `${x.prefill.name}${x.decode.name}`; }), ['aa', 'bb', 'ab', 'ba']);
  });

  test("each role its own policy (sgl-router's --prefill-policy/--decode-policy): prefill round-robin, decode by load", () => {
    const p = createPairPolicy({ prefill: 'round_robin', decode: 'least_load' }, scripted());
    const prefill = [node('p1'), node('p2'), node('p3')];
    const decode = [node('d1', 4), node('d2', 0), node('d3', 2)];
    const picks = [1, 2, 3, 4].map(() => { const x = p.pick(prefill, decode); return `${x.prefill.name}-${x.decode.name}`; });
    assert.deepEqual(picks, ['p1-d2', 'p2-d2', 'p3-d2', 'p1-d2']);
  });

  test('random maps the source onto the candidates', () => {
    const p = createPolicy('random', scripted(0, 0.34, 0.67, 0.999));
    const abc = [node('a'), node('b'), node('c')];
    assert.deepEqual([1, 2, 3, 4].map(() => p.pick(abc).name), ['a', 'b', 'c', 'c']);
  });

  test('power_of_two compares two distinct random candidates and takes the less loaded', () => {
    const abc = [node('a', 5), node('b', 1), node('c', 3)];
    // first = floor(0 * 3) = a; second = floor(0.5 * 2) = 1, shifted past a: c. c (3) beats a (5).
    assert.equal(createPolicy('power_of_two', scripted(0, 0.5)).pick(abc).name, 'c');
    // first = c; second = floor(0.99 * 2) = 1: b. b (1) beats c (3).
    assert.equal(createPolicy('power_of_two', scripted(0.9, 0.99)).pick(abc).name, 'b');
    // first = b; second = 0: a. b is less loaded.
    assert.equal(createPolicy('power_of_two', scripted(0.5, 0)).pick(abc).name, 'b');
    // A tie keeps the first drawn.
    assert.equal(createPolicy('power_of_two', scripted(0.9, 0)).pick([node('a', 2), node('b'), node('c', 2)]).name, 'c');
    // One candidate: no draw at all.
    assert.equal(createPolicy('power_of_two', scripted()).pick([node('only', 9)]).name, 'only');
  });

  test('least_load takes the least loaded and rotates among ties', () => {
    const p = createPolicy('least_load', scripted());
    const nodes = [node('a', 2), node('b', 0), node('c', 0)];
    assert.deepEqual([1, 2, 3].map(() => p.pick(nodes).name), ['b', 'c', 'b']);
    nodes[2].load = 5;
    assert.equal(p.pick(nodes).name, 'b');
    nodes[1].load = 7;
    assert.equal(p.pick(nodes).name, 'a');
  });

  test('round_robin in a router over 2 prefill x 2 decode nodes uses all 4 pairings', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv), goodPrefill(kv)], [goodDecode(kv), goodDecode(kv)]);
    try {
      for (let i = 0; i < 4; i++) assert.equal((await post(`${c.router.url}/generate`, '{"text":"x"}')).status, 200);
      const roomsOf = (n: { generations: { rooms: string[] }[] }) => new Set(n.generations.map((g) => g.rooms[0]));
      const pairings = c.prefills.flatMap((p, i) => c.decodes.map((d, j) => [...roomsOf(p)].filter((room) => roomsOf(d).has(room)).map(() => `${i}-${j}`))).flat();
      assert.deepEqual(pairings.sort(), ['0-0', '0-1', '1-0', '1-1']);
    } finally {
      await c.close();
    }
  });

  test('round_robin in a router rotates prefill and decode nodes in turn', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv), goodPrefill(kv)], [goodDecode(kv), goodDecode(kv), goodDecode(kv)]);
    try {
      for (let i = 0; i < 6; i++) assert.equal((await post(`${c.router.url}/generate`, '{"text":"x"}')).status, 200);
      assert.deepEqual(c.prefills.map((n) => n.generations.length), [3, 3]);
      assert.deepEqual(c.decodes.map((n) => n.generations.length), [2, 2, 2]);
      // Request i went to prefill i % 2 and decode i % 3: the same room on both.
      const rooms = (n: { generations: { rooms: string[] }[] }) => n.generations.map((g) => g.rooms[0]);
      assert.deepEqual(rooms(c.decodes[1]), [rooms(c.prefills[1])[0], rooms(c.prefills[0])[2]]);
    } finally {
      await c.close();
    }
  });

  test('least_load in a router sends new requests away from a node holding one', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv)], [hanging, goodDecode(kv)], { policy: 'least_load' });
    try {
      const client = new AbortController();
      const held = post(`${c.router.url}/generate`, '{"text":"held"}', client.signal).catch(() => undefined);
      await c.decodes[0].waitForGenerations(1);
      for (let i = 0; i < 3; i++) assert.equal((await post(`${c.router.url}/generate`, '{"text":"x"}')).status, 200);
      assert.equal(c.decodes[0].generations.length, 1, 'the loaded node got nothing more');
      assert.equal(c.decodes[1].generations.length, 3);
      client.abort();
      await held;
      await c.decodes[0].generations[0].cutOff;
    } finally {
      await c.close();
    }
  });
});
