/**
 * The room and writer the transfer tests write under: a receiver takes a tcp write only into pages
 * granted to its room for the link's writer (shm and verbs ignore grants so far).
 */
export const TEST_ROOM = '7';
export const TEST_WRITER = '5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e';

/** Page ids 0 .. n-1 (a grant of the whole pool). */
export function allPages(n: number): number[] {
  return Array.from({ length: n }, (_, p) => p);
}
