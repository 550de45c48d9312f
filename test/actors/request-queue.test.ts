/**
 * The transfer actor's turn (actors/transfer/request-queue.ts) over a real MessageChannel and a real
 * reply batch: requests queued behind the first are served in order in one turn; before a large
 * write starts with little work left behind it, the replies made so far leave, so the client can
 * refill while it is copied; small writes and other requests keep one reply message per turn.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { EARLY_REPLY_BYTES, REFILL_BYTES, RequestQueue } from '../../actors/transfer/request-queue.js';
import type { TransferReply, TransferRequest } from '../../actors/transfer/protocol.js';
import { ReplyBatch } from '../../src/util/actor/reply-batch.js';

const PAGE = 4096;

function write(id: number, bytes: number): TransferRequest {
  return { type: 'write', id, peerId: 'rx', writer: 'w', runs: [{ src: 0, dst: 0, count: bytes / PAGE }], timeoutMs: 1000, room: '1' };
}

/** The reply messages that reached the client, as lists of ids. */
function received(port: MessagePort): number[][] {
  const messages: number[][] = [];
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) messages.push((m.message as TransferReply[]).map((r) => r.id));
  return messages;
}

/** Posts `requests` as a client would, then runs the actor's turn on them with a serve that answers each at once (an shm write). */
async function oneTurn(requests: TransferRequest[]): Promise<{ served: number[]; messages: number[][] }> {
  const { port1: actor, port2: client } = new MessageChannel();
  try {
    const replies = new ReplyBatch<TransferReply>(actor);
    const queue = new RequestQueue(actor, PAGE, replies);
    for (const req of requests.slice(1)) client.postMessage(req);
    const served: number[] = [];
    queue.turn(requests[0], (req) => {
      served.push(req.id);
      replies.post({ type: 'written', id: req.id, bytes: 0, runs: 1, ms: 0 });
    });
    const early = received(client);
    await nextTurn();
    return { served, messages: [...early, ...received(client)] };
  } finally {
    actor.close();
  }
}

test('request queue: 4 writes of 512 KiB in one turn: the replies of the first two leave before the third starts, then one per write', async () => {
  assert.equal(REFILL_BYTES, 1 << 20);
  const { served, messages } = await oneTurn([1, 2, 3, 4].map((id) => write(id, 512 << 10)));
  assert.deepEqual(served, [1, 2, 3, 4], 'every queued request, in order, in one turn');
  // Before 3: 1 MiB left (3 and 4) -> [1, 2] leave; before 4: 512 KiB left -> [3]; the turn's end: [4].
  assert.deepEqual(messages, [[1, 2], [3], [4]]);
});

test('request queue: more than REFILL_BYTES still queued holds the replies; small writes and other requests keep one message per turn', async () => {
  const big = await oneTurn([1, 2, 3].map((id) => write(id, 4 << 20)));
  assert.deepEqual(big.messages, [[1, 2, 3]], 'each 4 MiB write alone is more than REFILL_BYTES of work');
  const small = await oneTurn([1, 2, 3, 4, 5, 6].map((id) => write(id, EARLY_REPLY_BYTES - PAGE)));
  assert.deepEqual(small.messages, [[1, 2, 3, 4, 5, 6]], 'writes below EARLY_REPLY_BYTES: one message');
  const mixed = await oneTurn([write(1, 1 << 20), { type: 'release', id: 2, room: '1', how: 'confirmed' }, write(3, 1 << 20)]);
  assert.deepEqual(mixed.served, [1, 2, 3]);
  assert.deepEqual(mixed.messages, [[1, 2], [3]], 'a release weighs nothing: before the last 1 MiB write, the replies made leave');
});
