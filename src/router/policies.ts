/**
 * Load-balancing policies: each picks one node from a role's candidates (the nodes that are up and
 * not excluded, in membership order: static nodes in flag order, then registry nodes in order of
 * arrival). The router keeps one `PairPolicy` that picks a prefill and a decode node together. Load
 * is the number of requests the router has in flight to a node. Decisions:
 * - round_robin: a counter modulo the current candidate count; membership changes just shift it.
 *   Pairs share one turn counter t over P prefill and D decode candidates: prefill t % P, decode
 *   (t + floor(t / L)) % D with L = lcm(P, D). Within a block of L turns, (t % P, t % D) are L
 *   distinct pairs (Chinese remainder theorem), all with the same (prefill - decode) mod g,
 *   g = gcd(P, D); the shift floor(t / L) moves the next block to the next residue, so P x D turns
 *   use every pairing exactly once. Two counters in lockstep (the old way) used only L pairings: 2
 *   of 4 on 2 x 2. Each role still gets every node in turn (t % P, and the shifted t % D both cycle).
 * - The other policies, and roles with different policies (sgl-router's --prefill-policy and
 *   --decode-policy), pick per role independently (each role's own instance), which already mixes
 *   pairings.
 * - power_of_two: two distinct random candidates, the less loaded wins (the first drawn on a tie).
 * - least_load: the least loaded; ties rotate round-robin, so an idle cluster still spreads requests
 *   instead of always starting on the first node.
 * - The random source is injectable so tests can check every choice deterministically.
 */
import type { PolicyName } from './options.js';

/** What a policy needs to know about a node. */
export interface Loaded {
  readonly load: number;
}

/** Returns a number in [0, 1). */
export type RandomSource = () => number;

export interface Policy {
  /** `candidates` is never empty. */
  pick<T extends Loaded>(candidates: readonly T[]): T;
}

/** Picks a prefill and a decode node together (both candidate lists are never empty). */
export interface PairPolicy {
  pick<T extends Loaded>(prefill: readonly T[], decode: readonly T[]): { prefill: T; decode: T };
}

/** Each role's policy. */
export interface RolePolicies {
  prefill: PolicyName;
  decode: PolicyName;
}

export function createPairPolicy(names: RolePolicies, random: RandomSource = Math.random): PairPolicy {
  if (names.prefill === 'round_robin' && names.decode === 'round_robin') {
    let turn = 0;
    return {
      pick: (prefill, decode) => {
        const t = turn++;
        const block = lcm(prefill.length, decode.length);
        return { prefill: prefill[t % prefill.length], decode: decode[(t + Math.floor(t / block)) % decode.length] };
      },
    };
  }
  const perRole = { prefill: createPolicy(names.prefill, random), decode: createPolicy(names.decode, random) };
  return { pick: (prefill, decode) => ({ prefill: perRole.prefill.pick(prefill), decode: perRole.decode.pick(decode) }) };
}

function lcm(a: number, b: number): number {
  let [x, y] = [a, b];
  while (y !== 0) [x, y] = [y, x % y];
  return (a / x) * b;
}

export function createPolicy(name: PolicyName, random: RandomSource = Math.random): Policy {
  switch (name) {
    case 'random':
      return { pick: (c) => c[randomIndex(random, c.length)] };
    case 'round_robin': {
      let turn = 0;
      return { pick: (c) => c[turn++ % c.length] };
    }
    case 'power_of_two':
      return {
        pick: (c) => {
          if (c.length === 1) return c[0];
          const first = randomIndex(random, c.length);
          const other = randomIndex(random, c.length - 1);
          const second = other >= first ? other + 1 : other;
          return c[second].load < c[first].load ? c[second] : c[first];
        },
      };
    case 'least_load': {
      let turn = 0;
      return {
        pick: (c) => {
          const least = Math.min(...c.map((n) => n.load));
          const tied = c.filter((n) => n.load === least);
          return tied[turn++ % tied.length];
        },
      };
    }
  }
}

function randomIndex(random: RandomSource, n: number): number {
  // min() guards a source that returns 1 (outside its contract) from indexing past the end.
  return Math.min(n - 1, Math.floor(random() * n));
}
