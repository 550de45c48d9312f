/**
 * Load-balancing policies: each picks one node from a role's candidates (the nodes that are up and
 * not excluded, in membership order: static nodes in flag order, then registry nodes in order of
 * arrival). The router keeps one policy instance per role, so round-robin turns and any state are
 * per role. Load is the number of requests the router has in flight to a node. Decisions:
 * - round_robin: a counter modulo the current candidate count; membership changes just shift it.
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
