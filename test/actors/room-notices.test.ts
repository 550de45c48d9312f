/**
 * The transfer actor's per-room completion notices: sent once the room has ended and every write
 * tagged with it landed (whatever the order of those), with the figures summed over its writes;
 * never for a room with a failed write or one ended without a first token; no room is kept after.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FirstToken, KvDoneNotice } from '../../actors/scheduler/protocol.js';
import { RoomNotices, wallNow } from '../../actors/transfer/room-notices.js';

const FIRST = { id: 7, draws: 1 } as FirstToken;
/** The room's first write 5 ms ago, its first token 2 ms ago. */
const times = () => ({ firstWriteAt: wallNow() - 5, firstTokenAt: wallNow() - 2 });

function notices(): { rooms: RoomNotices; sent: KvDoneNotice[] } {
  const sent: KvDoneNotice[] = [];
  return { rooms: new RoomNotices((n) => sent.push(n)), sent };
}

test('the notice waits for the last write of the room, then carries the summed figures', async () => {
  const { rooms, sent } = notices();
  rooms.writeStarted('r1');
  rooms.writeStarted('r1');
  rooms.writeSettled('r1', { bytes: 100, runs: 1, ms: 2 });
  const ended = rooms.end('r1', 'decode-a', FIRST, times());
  assert.equal(sent.length, 0, 'one write still in flight');
  rooms.writeSettled('r1', { bytes: 50, runs: 2, ms: 3 });
  assert.equal(await ended, true);
  assert.equal(sent.length, 1);
  assert.deepEqual([sent[0].room, sent[0].peerId, sent[0].first, sent[0].bytes, sent[0].runs, sent[0].writeMs], ['r1', 'decode-a', FIRST, 150, 3, 5]);
  assert.ok(sent[0].exposedMs >= 2 && sent[0].transferMs >= sent[0].exposedMs + 3, JSON.stringify(sent[0]));
  assert.equal(rooms.size, 0);
});

test('ended after every write landed: the notice goes at once', async () => {
  const { rooms, sent } = notices();
  rooms.writeStarted('r2');
  rooms.writeSettled('r2', { bytes: 10, runs: 1, ms: 1 });
  assert.equal(await rooms.end('r2', 'decode-a', FIRST, times()), true);
  assert.equal(sent.length, 1);
});

test('a failed write means no notice; a room ended without a first token is only forgotten', async () => {
  const { rooms, sent } = notices();
  rooms.writeStarted('bad');
  rooms.writeStarted('bad');
  rooms.writeSettled('bad', null);
  const ended = rooms.end('bad', 'decode-a', FIRST, times());
  rooms.writeSettled('bad', { bytes: 10, runs: 1, ms: 1 });
  assert.equal(await ended, false);
  rooms.writeStarted('aborted');
  const forgotten = rooms.end('aborted', 'decode-a', null, times());
  rooms.writeSettled('aborted', { bytes: 10, runs: 1, ms: 1 });
  assert.equal(await forgotten, false);
  assert.equal(sent.length, 0);
  assert.equal(rooms.size, 0);
});

test('rooms are independent', async () => {
  const { rooms, sent } = notices();
  rooms.writeStarted('a');
  rooms.writeStarted('b');
  const a = rooms.end('a', 'decode-a', FIRST, times());
  const b = rooms.end('b', 'decode-b', FIRST, times());
  rooms.writeSettled('b', { bytes: 1, runs: 1, ms: 1 });
  assert.equal(await b, true);
  assert.deepEqual(sent.map((n) => n.room), ['b']);
  rooms.writeSettled('a', null);
  assert.equal(await a, false);
  assert.equal(rooms.size, 0);
});
