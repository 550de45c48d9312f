/**
 * Prefill rooms in-process, with a fake clock and a fake KV writer whose every connect, write and
 * room end the test settles by hand: every transition, and above all when pages are freed and when
 * decode is told. A room's pages go back to the pool only once no write of it is in flight (a write
 * reads them asynchronously), and decode hears of a failure only after that, and never after the
 * writer sent it the completion notice.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { KvAllocator } from '../../src/kv/kv-allocator.js';
import type { KvEndpoint, PageRun, WriteResult } from '../../src/transfer/kv-transfer.js';
import type { FirstToken, SchedulerOutbound } from '../../actors/scheduler/protocol.js';
import { PrefillRooms, type RoomTarget } from '../../actors/scheduler/prefill-rooms.js';
import type { RoomWriter } from '../../actors/scheduler/room-writer.js';
import { Sequence } from '../../actors/scheduler/sequence.js';
import type { IncrementalDetokenizer } from '../../src/model/incremental-detokenizer.js';
import { DEFAULT_SAMPLING } from '../../src/sampling/params.js';

const PAGE_SIZE = 4;
const PAGES = 32;
/** 10 prompt tokens: 3 pages. */
const PROMPT = 10;
const TIMEOUT_MS = 1_000;
const FIRST: FirstToken = { id: 7, draws: 1 };
const ENDPOINT = { backend: 'tcp', host: '10.0.0.2', port: 7000 } as KvEndpoint;

interface Pending<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

function pending<T>(): { promise: Promise<T> } & Pending<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A writer that records every call and leaves writes and room ends open until the test settles them. */
class FakeWriter implements RoomWriter {
  readonly calls: string[] = [];
  readonly writes: (Pending<WriteResult> & { room: string })[] = [];
  readonly ends: (Pending<boolean> & { room: string; first: FirstToken | null })[] = [];
  connectError: string | null = null;

  async connect(peerId: string, _endpoint: KvEndpoint, writer: string): Promise<void> {
    this.calls.push(`connect ${peerId} ${writer}`);
    if (this.connectError !== null) throw new Error(this.connectError);
  }

  write(peerId: string, writer: string, runs: readonly PageRun[], _timeoutMs: number, room: string): Promise<WriteResult> {
    this.calls.push(`write ${room} ${peerId} ${writer} ${runs.map((r) => `${r.src}>${r.dst}x${r.count}`).join(' ')}`);
    const p = pending<WriteResult>();
    this.writes.push({ ...p, room });
    return p.promise;
  }

  async closePeer(peerId: string): Promise<void> {
    this.calls.push(`closePeer ${peerId}`);
  }

  endRoom(room: string, peerId: string, first: FirstToken | null): Promise<boolean> {
    this.calls.push(`end ${room} ${peerId} ${first ? first.id : 'forget'}`);
    const p = pending<boolean>();
    this.ends.push({ ...p, room, first });
    return p.promise;
  }

  /** Lands every open write of `room`. */
  land(room: string): void {
    for (const w of this.writes.filter((x) => x.room === room)) w.resolve({ bytes: 1, runs: 1, ms: 1 });
  }
}

interface Failure {
  rid: string;
  message: string;
  status: number;
  retryAfterSecs?: number;
}

function setup(opts: { maxParkedTargets?: number; maxUnclaimed?: number; maxPerPeer?: number; maxClosed?: number } = {}) {
  const allocator = new KvAllocator(PAGES, PAGE_SIZE);
  const writer = new FakeWriter();
  const sent: SchedulerOutbound[] = [];
  const failures: Failure[] = [];
  const claimed: string[] = [];
  const clock = { now: 0 };
  const rooms = new PrefillRooms({
    allocator, writer, emit: (m) => sent.push(m), log: pino({ level: 'silent' }), pageSize: PAGE_SIZE,
    bootstrapTimeoutMs: TIMEOUT_MS, transferTimeoutMs: TIMEOUT_MS, maxParkedTargets: opts.maxParkedTargets ?? 8,
    maxUnclaimed: opts.maxUnclaimed ?? 8, maxPerPeer: opts.maxPerPeer ?? 8, maxClosed: opts.maxClosed ?? 8, now: () => clock.now,
    // The scheduler queues a claimed room for compute, which takes its pages: here at once.
    onClaimed: (seq) => {
      claimed.push(seq.rid);
      assert.ok(allocator.ensure(seq.rid, seq.promptLen + 1));
    },
    onFailed: (seq, message, status, retryAfterSecs) => failures.push({ rid: seq.rid, message, status, ...(retryAfterSecs === undefined ? {} : { retryAfterSecs }) }),
  });
  const seqs = new Map<string, Sequence>();
  /** A request for `room` arrives; returns why it fails at once, or null. */
  const track = (room: string): string | null => {
    const req = { rid: `r${room}`, input: { kind: 'ids' as const, ids: [] }, sampling: { ...DEFAULT_SAMPLING, maxNewTokens: 4 }, returnLogprob: false, logprobStartLen: -1, topLogprobsNum: 0, returnTextInLogprobs: false, pd: { room, host: '10.0.0.1', port: 8998 } };
    // PrefillRooms never detokenizes: the sequence needs no tokenizer
    const seq = new Sequence(req, Array.from({ length: PROMPT }, (_, i) => i), Number(room), 1024, null as unknown as IncrementalDetokenizer);
    seqs.set(room, seq);
    return rooms.track(seq, room);
  };
  /** Prefill computed `tokens` of the room's prompt (a forward step ended). */
  const compute = (room: string, tokens: number): void => {
    seqs.get(room)!.computed = tokens;
    rooms.progress(room);
  };
  const target = (room: string, peerId = 'decode-a', pageIds = [100, 101, 102], writerToken = `w-${peerId}`): void =>
    rooms.target(room, { peerId, endpoint: ENDPOINT, pageIds, writer: writerToken } satisfies RoomTarget);
  const notices = () => sent.filter((m) => m.type === 'room_failed_notice');
  const writeCalls = (room: string) => writer.calls.filter((c) => c.startsWith(`write ${room} `));
  return { allocator, writer, sent, failures, claimed, clock, rooms, track, compute, target, notices, writeCalls };
}

/** Lets the fake writer's answers (promise reactions) run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('prefill rooms', () => {
  test('a claimed room writes its pages as they complete, the rest and its end after the first token; its pages are free once every write landed', async () => {
    const t = setup();
    assert.equal(t.track('1'), null);
    await settle();
    assert.deepEqual(t.claimed, [], 'an unclaimed room is not computed');
    assert.deepEqual(t.writer.calls, []);
    t.target('1');
    assert.deepEqual(t.claimed, ['r1']);
    assert.deepEqual(t.writer.calls, ['connect decode-a w-decode-a']);
    assert.equal(t.allocator.freePages, PAGES - 3);

    t.compute('1', 3);
    await settle();
    assert.deepEqual(t.writeCalls('1'), [], 'no page is complete yet');
    t.compute('1', 8);
    await settle();
    assert.deepEqual(t.writeCalls('1'), ['write 1 decode-a w-decode-a 0>100x2'], 'the two complete pages, in one run');
    t.rooms.complete('1', FIRST);
    await settle();
    assert.deepEqual(t.writer.calls.slice(2), ['write 1 decode-a w-decode-a 2>102x1', 'end 1 decode-a 7'], 'the partial last page, then the end with the first token');

    t.writer.writes[0].resolve({ bytes: 1, runs: 1, ms: 1 });
    await settle();
    assert.equal(t.rooms.has('1'), true, 'a write is still in flight');
    assert.equal(t.allocator.freePages, PAGES - 3, 'its source pages are still being read');
    t.writer.land('1');
    await settle();
    assert.equal(t.rooms.has('1'), false);
    assert.equal(t.allocator.freePages, PAGES);
    assert.deepEqual(t.failures, []);
    assert.deepEqual(t.notices(), [], 'the writer sends decode the completion notice, not this code');
  });

  test('a page list that arrives before its request is parked and claimed by it; parked lists expire and are bounded', async () => {
    const t = setup({ maxParkedTargets: 1 });
    t.target('1');
    assert.deepEqual(t.writer.calls, [], 'parked: no request to compute yet');
    t.target('2');
    assert.deepEqual(t.notices(), [{ type: 'room_failed_notice', room: '2', peerId: 'decode-a', message: 'prefill node has too many rooms waiting for their request; retry', retryAfterSecs: 1 }], 'full: decode answers 503 + Retry-After');
    assert.equal(t.track('1'), null);
    assert.deepEqual(t.claimed, ['r1'], 'the parked list claims the request at once');
    assert.deepEqual(t.writer.calls, ['connect decode-a w-decode-a']);

    t.target('3'); // the bound has room again
    assert.equal(t.notices().length, 1);
    t.clock.now = TIMEOUT_MS + 1;
    t.rooms.sweep();
    assert.equal(t.track('3'), null);
    assert.deepEqual(t.claimed, ['r1'], 'the expired list was dropped: room 3 waits for a new one');
  });

  test('tombstones: a room decode failed before its request fails that request at once; one this side ended before its claim answers the late page list; both forgotten after the bootstrap timeout', async () => {
    const t = setup();
    t.rooms.failedByPeer('1', 'decode-a', 'decode gave up');
    assert.deepEqual(t.notices(), [{ type: 'room_failed_notice', room: '1', peerId: 'decode-a', message: 'room closed' }], 'decode holds its pages until answered');
    assert.equal(t.track('1'), 'decode gave up');
    assert.equal(t.rooms.has('1'), false);

    // decode's failure also drops a page list parked for the room: a late request must not write into freed pages
    t.target('2');
    t.rooms.failedByPeer('2', 'decode-a', 'timed out');
    assert.equal(t.track('2'), 'timed out');
    assert.equal(t.track('2'), null, 'a retry with the same room waits for a new claim');
    assert.deepEqual(t.claimed, [], 'the dropped list claims nothing');
    assert.deepEqual(t.writer.calls, []);

    assert.equal(t.track('3'), null);
    t.rooms.fail('3', 'client went away', { tellDecode: true });
    assert.equal(t.rooms.has('3'), false);
    assert.equal(t.notices().length, 2, 'nobody claimed it yet: nobody to tell');
    t.target('3');
    assert.deepEqual(t.notices().at(-1), { type: 'room_failed_notice', room: '3', peerId: 'decode-a', message: 'client went away' });
    assert.deepEqual(t.writer.calls, [], 'nothing connected or written for an ended room');

    assert.equal(t.track('4'), null);
    t.rooms.fail('4', 'client went away', { tellDecode: true });
    t.rooms.failedByPeer('5', 'decode-a', 'decode gave up');
    t.clock.now = TIMEOUT_MS + 1;
    t.rooms.sweep();
    t.target('4');
    assert.equal(t.notices().length, 4, 'forgotten: the late list is parked, not answered');
    assert.equal(t.track('5'), null, 'forgotten: the late request waits for a claim');
  });

  test('one unclaimed room too many evicts the one that waited longest (503 + Retry-After); claimed rooms do not count', async () => {
    const t = setup({ maxUnclaimed: 2 });
    t.track('1');
    t.track('2');
    assert.equal(t.failures.length, 0);
    t.track('3');
    assert.equal(t.failures.length, 1);
    assert.equal(t.failures[0].rid, 'r1');
    assert.equal(t.failures[0].status, 503);
    assert.equal(t.failures[0].retryAfterSecs, 1);
    assert.match(t.failures[0].message, /2 rooms wait for a decode node to claim them and bootstrap_room 1 waited longest/);
    assert.equal(t.rooms.has('1'), false);
    t.target('1');
    assert.match(t.notices()[0]?.message ?? '', /bootstrap_room 1 waited longest/, 'its late page list is answered with the reason');

    t.target('2'); // claimed: room 3 is the only one waiting
    t.track('4');
    assert.equal(t.failures.length, 1, 'room 4 fits beside room 3');
    t.track('5');
    assert.equal(t.failures.at(-1)?.rid, 'r3');
  });

  test('beyond its bound per decode node a page list is refused (503 to the request, room_failed to decode); other decode nodes still claim; a room that leaves frees its slot', async () => {
    const t = setup({ maxPerPeer: 1 });
    t.track('1');
    t.track('2');
    t.track('3');
    t.target('1', 'decode-a');
    t.target('2', 'decode-a');
    assert.deepEqual(t.failures.map((f) => [f.rid, f.status, f.retryAfterSecs]), [['r2', 503, 1]]);
    assert.match(t.failures[0].message, /holds 1 rooms for decode node decode-a, its bound/);
    assert.deepEqual(t.notices().map((n) => [n.room, n.peerId, n.type === 'room_failed_notice' && n.retryAfterSecs]), [['2', 'decode-a', 1]], 'decode is told it is a capacity refusal');
    t.target('3', 'decode-b');
    assert.deepEqual(t.claimed, ['r1', 'r3']);
    assert.equal(t.allocator.tableCount, 2, 'the refused room holds no pages');

    t.rooms.complete('1', FIRST);
    await settle();
    t.writer.land('1');
    await settle();
    assert.equal(t.rooms.has('1'), false);
    t.track('4');
    t.target('4', 'decode-a');
    assert.deepEqual(t.claimed, ['r1', 'r3', 'r4'], 'room 1 left: decode-a has a slot again');
  });

  test('a room no decode node claims within the bootstrap timeout fails (504); decode is not told, and its late page list is answered', async () => {
    const t = setup();
    t.track('1');
    t.clock.now = TIMEOUT_MS;
    t.rooms.sweep();
    assert.equal(t.failures.length, 0);
    t.clock.now = TIMEOUT_MS + 1;
    t.rooms.sweep();
    assert.deepEqual(t.failures, [{ rid: 'r1', message: 'no decode node claimed bootstrap_room 1 within 1 s', status: 504 }]);
    assert.deepEqual(t.notices(), []);
    t.target('1');
    assert.deepEqual(t.notices().map((n) => n.message), ['no decode node claimed bootstrap_room 1 within 1 s']);
  });

  test('a page list with too few pages fails the room (500) and tells decode; nothing is connected or written', async () => {
    const t = setup();
    t.track('1');
    t.target('1', 'decode-a', [100]);
    await settle();
    assert.deepEqual(t.failures.map((f) => f.status), [500]);
    assert.match(t.failures[0].message, /decode node reserved 1 pages for bootstrap_room 1, the prompt needs 3/);
    assert.deepEqual(t.notices().map((n) => n.room), ['1']);
    assert.deepEqual(t.writer.calls, []);
    assert.equal(t.allocator.freePages, PAGES);
  });

  test('a link that cannot be made fails the room (502), tells decode and frees the pages', async () => {
    const t = setup();
    t.writer.connectError = 'ECONNREFUSED';
    t.track('1');
    t.target('1');
    t.compute('1', 8);
    await settle();
    assert.deepEqual(t.failures, [{ rid: 'r1', message: 'KV transfer to decode node decode-a failed: cannot connect: ECONNREFUSED', status: 502 }]);
    assert.deepEqual(t.writeCalls('1'), []);
    assert.deepEqual(t.notices().map((n) => n.room), ['1']);
    assert.equal(t.rooms.has('1'), false);
    assert.equal(t.allocator.freePages, PAGES);
  });

  test('a failed write fails the room (502); its pages and decode\'s notice wait for its other writes, and the writer forgets the room first', async () => {
    const t = setup();
    t.track('1');
    t.target('1');
    t.compute('1', 4);
    await settle();
    t.compute('1', 8);
    await settle();
    assert.equal(t.writer.writes.length, 2);
    t.writer.writes[0].reject(new Error('link reset'));
    await settle();
    assert.deepEqual(t.failures, [{ rid: 'r1', message: 'KV transfer to decode node failed: link reset', status: 502 }]);
    assert.deepEqual(t.notices(), [], 'a write is in flight: decode must not free its pages yet');
    assert.equal(t.allocator.freePages, PAGES - 3);
    t.rooms.complete('1', FIRST);
    await settle();
    assert.equal(t.writer.writes.length, 2, 'a failed room writes nothing more');

    t.writer.writes[1].resolve({ bytes: 1, runs: 1, ms: 1 });
    await settle();
    assert.equal(t.allocator.freePages, PAGES, 'no write in flight: the pages are free');
    assert.deepEqual(t.writer.ends.map((e) => [e.room, e.first]), [['1', null]], 'the writer forgets the room');
    assert.deepEqual(t.notices(), [], 'told only once the writer says no completion notice went out');
    t.writer.ends[0].resolve(false);
    await settle();
    assert.deepEqual(t.notices(), [{ type: 'room_failed_notice', room: '1', peerId: 'decode-a', message: 'KV transfer to decode node failed: link reset' }]);
  });

  test('a late completion: decode fails the room while its last write is in flight and the writer still sends the completion notice; decode is then not told of a failure', async () => {
    const t = setup();
    t.track('1');
    t.target('1');
    t.rooms.complete('1', FIRST);
    await settle();
    t.rooms.failedByPeer('1', 'decode-a', 'timed out');
    assert.equal(t.rooms.has('1'), true, 'held while its write reads the pages');
    assert.equal(t.allocator.freePages, PAGES - 3);
    t.writer.land('1');
    await settle();
    assert.equal(t.allocator.freePages, PAGES);
    t.writer.ends[0].resolve(true); // every write landed: decode has the whole prompt
    await settle();
    assert.deepEqual(t.notices(), []);

    // the same, but the notice did not go out: decode is told
    t.track('2');
    t.target('2');
    t.rooms.complete('2', FIRST);
    await settle();
    t.rooms.failedByPeer('2', 'decode-a', 'timed out');
    t.writer.land('2');
    await settle();
    t.writer.ends[1].resolve(false);
    await settle();
    assert.deepEqual(t.notices().map((n) => [n.room, n.message]), [['2', 'timed out']]);
  });

  test('a lost decode node: its rooms fail (502) and it is not told; the other node\'s rooms go on', async () => {
    const t = setup();
    t.track('1');
    t.track('2');
    t.target('1', 'decode-a');
    t.target('2', 'decode-b');
    t.compute('1', 4);
    t.compute('2', 4);
    await settle();
    t.rooms.peerLost('decode-a', 'decode node decode-a stopped answering');
    assert.deepEqual(t.failures, [{ rid: 'r1', message: 'decode node decode-a stopped answering', status: 502 }]);
    assert.equal(t.allocator.freePages, PAGES - 6, 'room 1\'s write still reads its pages');
    t.writer.writes[0].reject(new Error('link closed'));
    await settle();
    assert.equal(t.allocator.freePages, PAGES - 3);
    for (const e of t.writer.ends) e.resolve(false);
    await settle();
    assert.deepEqual(t.notices(), [], 'nobody to tell');
    assert.equal(t.failures.length, 1, 'failed once, not again for its write');

    t.rooms.complete('2', FIRST);
    await settle();
    t.writer.land('2');
    await settle();
    assert.equal(t.rooms.size, 0);
    assert.equal(t.allocator.freePages, PAGES);
  });

  test('a room ended from this side during its transfer (abort, engine error) tells decode only after its writes settle', async () => {
    const t = setup();
    t.track('1');
    t.target('1');
    t.compute('1', 8);
    await settle();
    t.rooms.fail('1', 'client went away', { tellDecode: true });
    t.rooms.fail('1', 'twice', { tellDecode: true });
    t.compute('1', 10);
    await settle();
    assert.equal(t.writer.writes.length, 1, 'nothing more is written');
    assert.deepEqual(t.notices(), []);
    assert.equal(t.allocator.freePages, PAGES - 3);
    t.writer.land('1');
    await settle();
    t.writer.ends[0].resolve(false);
    await settle();
    assert.deepEqual(t.notices().map((n) => n.message), ['client went away']);
    assert.equal(t.allocator.freePages, PAGES);
    assert.deepEqual(t.failures, [], 'the scheduler answers the request that it ended itself');
  });
});
