/**
 * Prefill rooms in-process, with a fake writer: a lost decode node's rooms fail with 502 and its KV
 * link is closed (so writes still in flight fail at once instead of at their timeout); rooms of
 * other decode nodes and their links are untouched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { PrefillRooms } from '../../actors/scheduler/prefill-rooms.js';
import type { RoomWriter } from '../../actors/scheduler/room-writer.js';
import { Sequence } from '../../actors/scheduler/sequence.js';
import { KvAllocator } from '../../src/kv/kv-allocator.js';
import type { IncrementalDetokenizer } from '../../src/model/incremental-detokenizer.js';
import { DEFAULT_SAMPLING } from '../../src/sampling/params.js';

const PAGE_SIZE = 4;
const TIMEOUT_MS = 1_000;
const WRITER = 'ab'.repeat(16);

/** Records connects and closed links; writes never settle (they are in flight when the peer is lost). */
class FakeWriter implements RoomWriter {
  readonly calls: string[] = [];

  async connect(peerId: string): Promise<void> {
    this.calls.push(`connect ${peerId}`);
  }

  write(): Promise<never> {
    return new Promise(() => {});
  }

  async endRoom(): Promise<boolean> {
    return false;
  }

  async closePeer(peerId: string): Promise<void> {
    this.calls.push(`close ${peerId}`);
  }
}

test('prefill rooms: a lost decode node fails its rooms (502) and closes its KV link, and only its', async () => {
  const writer = new FakeWriter();
  const failures: string[] = [];
  const allocator = new KvAllocator(16, PAGE_SIZE);
  const rooms = new PrefillRooms({
    allocator, writer, emit: () => {}, log: pino({ level: 'silent' }), pageSize: PAGE_SIZE, bootstrapTimeoutMs: TIMEOUT_MS, transferTimeoutMs: TIMEOUT_MS,
    maxParkedTargets: 4, maxUnclaimed: 4, maxPerPeer: 4, maxClosed: 4, now: () => 0, onClaimed: () => {},
    onFailed: (seq, message, status) => failures.push(`${seq.rid} ${status} ${message}`),
  });
  const claim = (room: string, peerId: string): void => {
    const req = { rid: `r${room}`, input: { kind: 'ids' as const, ids: [] }, sampling: { ...DEFAULT_SAMPLING, maxNewTokens: 1 }, returnLogprob: false, logprobStartLen: -1, topLogprobsNum: 0, returnTextInLogprobs: false };
    // PrefillRooms never detokenizes: the sequence needs no tokenizer
    const seq = new Sequence(req, [1, 2, 3], Number(room), 1024, null as unknown as IncrementalDetokenizer);
    assert.equal(rooms.track(seq, room), null);
    const endpoint = { backend: 'tcp' as const, host: '10.0.0.9', port: 7000 };
    rooms.target(room, { peerId, endpoint, pageIds: [0], writer: WRITER });
  };
  claim('1', 'decode-a');
  claim('2', 'decode-b');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(writer.calls, ['connect decode-a', 'connect decode-b']);

  rooms.peerLost('decode-a', 'decode node decode-a stopped answering');
  assert.deepEqual(failures, ['r1 502 decode node decode-a stopped answering']);
  assert.deepEqual(writer.calls, ['connect decode-a', 'connect decode-b', 'close decode-a'], "the lost peer's link is closed, the other stays");
  assert.equal(rooms.has('2'), true);
});
