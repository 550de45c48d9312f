/**
 * An actor's reply batch (src/util/actor/reply-batch.ts) over a real MessageChannel: the replies of
 * one turn leave as one message, in order, once the turn is over; the next turn's in the next
 * message; `flush` posts what waits at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { ReplyBatch } from '../../src/util/actor/reply-batch.js';

function queued(port: MessagePort): unknown[] {
  const messages: unknown[] = [];
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) messages.push(m.message);
  return messages;
}

test('reply batch: one message per turn, replies in the order they were made; flush posts at once', async () => {
  const { port1, port2 } = new MessageChannel();
  try {
    const batch = new ReplyBatch<{ id: number }>(port1);
    batch.post({ id: 1 });
    batch.post({ id: 2 });
    await Promise.resolve();
    batch.post({ id: 3 }); // made by a microtask of the same turn
    assert.deepEqual(queued(port2), [], 'nothing leaves before the turn is over');
    await nextTurn();
    assert.deepEqual(queued(port2), [[{ id: 1 }, { id: 2 }, { id: 3 }]]);
    batch.post({ id: 4 });
    await nextTurn();
    assert.deepEqual(queued(port2), [[{ id: 4 }]]);
    batch.post({ id: 5 });
    batch.flush();
    assert.deepEqual(queued(port2), [[{ id: 5 }]], 'flush does not wait for the turn to end');
    await nextTurn();
    assert.deepEqual(queued(port2), [], 'an empty turn posts nothing');
  } finally {
    port1.close();
  }
});
