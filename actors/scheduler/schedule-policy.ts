/**
 * SGLang's `--schedule-policy`: the order in which waiting requests are admitted. The scheduler
 * keeps its waiting list in arrival order and admits from the front without overtaking; a policy
 * reorders the list before each admission round. Decisions:
 * - `fcfs`: arrival order (no reordering).
 * - `lof` (longest output first): the largest `max_new_tokens` first, arrival order among equals.
 * - `random`: a shuffle each round, from a stream seeded by `--random-seed` (0 without it), so a
 *   seeded run admits in the same order every time.
 * - `lpm` (longest prefix match) and `dfs-weight` order by how much of a prompt the prefix cache
 *   holds. pd-node has no prefix cache, so every match is empty and both are `fcfs`, which is what
 *   SGLang itself does with its radix cache disabled.
 * Reordering sorts in place: no allocation per step.
 */
import { Prng } from '../../src/random/prng.js';
import type { Sequence } from './sequence.js';

/** SGLang's --schedule-policy names (SGLang's priority and routing-key are not among them). */
export const SCHEDULE_POLICIES = ['fcfs', 'lof', 'random', 'lpm', 'dfs-weight'] as const;
export type SchedulePolicy = (typeof SCHEDULE_POLICIES)[number];

export type WaitingOrder = (waiting: Sequence[]) => void;

const longestOutputFirst = (a: Sequence, b: Sequence): number => b.maxNewTokens - a.maxNewTokens || a.arrival - b.arrival;

/** The reordering for `policy`, or null when arrival order stands (fcfs and the prefix-cache policies). */
export function waitingOrder(policy: SchedulePolicy, randomSeed: number | null): WaitingOrder | null {
  switch (policy) {
    case 'lof':
      return (waiting) => {
        waiting.sort(longestOutputFirst);
      };
    case 'random': {
      const rng = new Prng(randomSeed ?? 0, 'schedule-policy');
      return (waiting) => {
        for (let i = waiting.length - 1; i > 0; i--) {
          const j = rng.nextUint32() % (i + 1);
          const t = waiting[i];
          waiting[i] = waiting[j];
          waiting[j] = t;
        }
      };
    }
    case 'fcfs':
    case 'lpm':
    case 'dfs-weight':
      return null;
  }
}
