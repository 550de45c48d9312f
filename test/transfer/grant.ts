/**
 * The room and writer the transfer tests write under: a receiver takes a tcp write only into pages
 * granted to its room for the link's writer; a verbs receiver makes queue pairs only for a writer it
 * granted a room; shm copies cannot be checked (the writer's lock matters only to cutWriter).
 */
export const TEST_ROOM = '7';
export const TEST_WRITER = '5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e';

/** Page ids 0 .. n-1 (a grant of the whole pool). */
export function allPages(n: number): number[] {
  return Array.from({ length: n }, (_, p) => p);
}
