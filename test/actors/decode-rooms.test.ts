/**
 * Decode rooms in-process, with a fake clock and a fake KV receiver whose answers the test chooses:
 * every transition, and above all when pages are freed. A room's pages go back to the pool only once
 * the receiver said no byte of the room can land any more: never at a timeout, never while a lost
 * writer may still write.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { KvAllocator } from '../../src/kv/kv-allocator.js';
import type { PdBootstrap, SchedulerOutbound } from '../../actors/scheduler/protocol.js';
import { DecodeRooms, type RoomGrants } from '../../actors/scheduler/decode-rooms.js';
import { Sequence } from '../../actors/scheduler/sequence.js';
import type { IncrementalDetokenizer } from '../../src/model/incremental-detokenizer.js';
import { DEFAULT_SAMPLING } from '../../src/sampling/params.js';

const PAGE_SIZE = 4;
const TIMEOUT_MS = 1_000;
const PEER: PdBootstrap = { room: '', host: '10.0.0.1', port: 9000 };

/** A receiver whose answers are queued by the test; grants resolve at once unless held. */
class FakeGrants implements RoomGrants {
  readonly calls: string[] = [];
  releaseAnswer = true;
  readonly cutAnswers: boolean[] = [];
  holdGrants = false;
  /** A grant the receiver refuses (e.g. its pool region is gone). */
  grantError: string | null = null;
  /** cutWriter throws (the transfer actor did not answer) while set. */
  cutError: string | null = null;
  private held: (() => void)[] = [];

  async grant(room: string, writer: string, pageIds: readonly number[]): Promise<void> {
    this.calls.push(`grant ${room} ${writer} ${pageIds.join(',')}`);
    if (this.holdGrants) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.grantError !== null) throw new Error(this.grantError);
  }

  async release(room: string, how: 'confirmed' | 'unconfirmed'): Promise<boolean> {
    this.calls.push(`release ${room} ${how}`);
    return how === 'confirmed' || this.releaseAnswer;
  }

  async cutWriter(writer: string): Promise<boolean> {
    this.calls.push(`cut ${writer}`);
    if (this.cutError !== null) throw new Error(this.cutError);
    return this.cutAnswers.shift() ?? false;
  }

  releaseHeldGrants(): void {
    for (const resolve of this.held.splice(0)) resolve();
  }
}

interface Failure {
  rid: string;
  message: string;
  status: number;
  retryAfterSecs?: number;
}

function setup(opts: { pages?: number; maxRoomsPerPeer?: number } = {}) {
  const allocator = new KvAllocator(opts.pages ?? 16, PAGE_SIZE);
  const grants = new FakeGrants();
  const sent: SchedulerOutbound[] = [];
  const failures: Failure[] = [];
  const logLines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) });
  const clock = { now: 0 };
  const rooms = new DecodeRooms({
    allocator, grants, emit: (m) => sent.push(m), log, bootstrapTimeoutMs: TIMEOUT_MS, transferTimeoutMs: TIMEOUT_MS,
    maxRoomsPerPeer: opts.maxRoomsPerPeer ?? 8, now: () => clock.now, onFailed: (seq, message, status, retryAfterSecs) => failures.push({ rid: seq.rid, message, status, ...(retryAfterSecs === undefined ? {} : { retryAfterSecs }) }),
  });
  /** A 10-token prompt (3 pages with the first decode position) for `room` on PEER (or `peer`). */
  const submit = (room: string, now: number, peer: Partial<PdBootstrap> = {}): Sequence => {
    const bootstrap = { ...PEER, ...peer, room };
    const req = { rid: `r${room}`, input: { kind: 'ids' as const, ids: [] }, sampling: { ...DEFAULT_SAMPLING, maxNewTokens: 4 }, returnLogprob: false, logprobStartLen: -1, topLogprobsNum: 0, returnTextInLogprobs: false, pd: bootstrap };
    // DecodeRooms never detokenizes: the sequence needs no tokenizer
    const seq = new Sequence(req, Array.from({ length: 10 }, (_, i) => i), Number(room), 1024, null as unknown as IncrementalDetokenizer);
    clock.now = now;
    rooms.enqueue(seq, bootstrap);
    rooms.preallocate();
    return seq;
  };
  const requests = () => sent.filter((m) => m.type === 'kv_request');
  const notices = () => sent.filter((m) => m.type === 'room_failed_notice');
  return { allocator, grants, sent, failures, logLines, clock, rooms, submit, requests, notices };
}

/** Lets the fake receiver's answers (promise reactions) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('decode rooms: the page list goes out only after the grant, with the peer\'s writer; success releases the grant and keeps the pages', async () => {
  const t = setup();
  t.grants.holdGrants = true;
  t.submit('1', 0);
  assert.equal(t.allocator.freePages, 13, 'pages reserved');
  await settle();
  assert.equal(t.requests().length, 0, 'no page list before the grant is in place');
  t.grants.releaseHeldGrants();
  await settle();
  const [req] = t.requests();
  assert.ok(req?.type === 'kv_request');
  assert.match(req.writer, /^[0-9a-f]{32}$/);
  assert.deepEqual(t.grants.calls, [`grant 1 ${req.writer} ${req.pageIds.join(',')}`]);
  t.grants.holdGrants = false;
  t.submit('2', 0);
  await settle();
  assert.equal(t.requests()[1].type === 'kv_request' && t.requests()[1].writer, req.writer, 'one writer per prefill peer');

  const seq = t.rooms.arrived('1');
  assert.equal(seq?.rid, 'r1');
  await settle();
  assert.ok(t.grants.calls.includes('release 1 confirmed'));
  assert.equal(t.allocator.freePages, 10, 'the arrived room\'s pages belong to its sequence now');
  assert.equal(t.rooms.has('1'), false);
});

test('decode rooms: an abort while queued tells prefill at once and holds nothing', async () => {
  const t = setup({ pages: 3 });
  t.submit('1', 0); // takes the whole pool
  t.submit('2', 0); // queued: no pages
  await settle();
  assert.equal(t.requests().length, 1);
  t.rooms.abort('2', 'client went away');
  assert.deepEqual(t.notices(), [{ type: 'room_failed_notice', room: '2', bootstrap: { ...PEER, room: '2' }, message: 'client went away' }]);
  assert.equal(t.rooms.has('2'), false);
  assert.ok(!t.grants.calls.some((c) => c.startsWith('grant 2')), 'never granted');
});

test('decode rooms: an abort during the grant sends no page list; the pages come back once the grant is released', async () => {
  const t = setup();
  t.grants.holdGrants = true;
  t.submit('1', 0);
  t.rooms.abort('1', 'aborted');
  assert.equal(t.notices().length, 1, 'prefill told at once');
  assert.equal(t.allocator.freePages, 13, 'held while the grant may be in place');
  t.grants.releaseHeldGrants();
  await settle();
  assert.equal(t.requests().length, 0);
  assert.ok(t.grants.calls.includes('release 1 confirmed'), 'no page list went out: nothing can be in flight');
  assert.equal(t.allocator.freePages, 16);
});

test('decode rooms: a local abort quarantines until release(unconfirmed) or the late confirmation says so; time alone frees nothing', async () => {
  const t = setup();
  t.submit('1', 0);
  t.submit('2', 0);
  await settle();
  // tcp: the receiver cuts a write under way and says true at once
  t.rooms.abort('1', 'aborted');
  await settle();
  assert.ok(t.grants.calls.includes('release 1 unconfirmed'));
  assert.equal(t.rooms.has('1'), false);
  assert.equal(t.allocator.freePages, 13);

  // shm / verbs: the receiver cannot promise it; the pages stay quarantined, past any timeout
  t.grants.releaseAnswer = false;
  t.rooms.abort('2', 'aborted');
  await settle();
  assert.ok(t.grants.calls.includes('release 2 unconfirmed'));
  t.clock.now = 100 * TIMEOUT_MS;
  t.rooms.sweep();
  await settle();
  assert.equal(t.rooms.has('2'), true);
  assert.equal(t.allocator.freePages, 13, 'quarantined pages are not freed by a timeout');
  assert.equal(t.failures.length, 0, 'an aborted room is not failed again');

  // prefill's confirmation (its room_failed, after its writes settled) ends the quarantine
  t.rooms.failedByPeer('2', 'room closed');
  await settle();
  assert.ok(t.grants.calls.includes('release 2 confirmed'));
  assert.equal(t.allocator.freePages, 16);
  assert.equal(t.failures.length, 0);
});

test('decode rooms: a room past its timeout fails (504), tells prefill and is released unconfirmed', async () => {
  const t = setup();
  t.grants.releaseAnswer = false;
  t.submit('1', 0);
  await settle();
  t.clock.now = 2 * TIMEOUT_MS - 1;
  t.rooms.sweep();
  assert.equal(t.failures.length, 0);
  t.clock.now = 2 * TIMEOUT_MS + 1;
  t.rooms.sweep();
  await settle();
  assert.equal(t.failures[0].status, 504);
  assert.match(t.failures[0].message, /did not deliver the KV cache within 2 s/);
  assert.equal(t.notices().length, 1);
  assert.ok(t.grants.calls.includes('release 1 unconfirmed'));
  assert.equal(t.allocator.freePages, 13, 'still quarantined: the receiver could not promise');
});

test('decode rooms: prefill\'s failure notice fails the room (502) and frees its pages once released', async () => {
  const t = setup();
  t.submit('1', 0);
  await settle();
  t.rooms.failedByPeer('1', 'KV transfer failed');
  await settle();
  assert.deepEqual(t.failures, [{ rid: 'r1', message: 'prefill node failed the request: KV transfer failed', status: 502 }]);
  assert.ok(t.grants.calls.includes('release 1 confirmed'));
  assert.equal(t.allocator.freePages, 16);
});

test('decode rooms: a lost peer\'s pages stay quarantined while cutWriter says false (asked again each sweep, logged once), freed when true; the peer gets a new writer', async () => {
  const t = setup();
  t.submit('1', 0);
  t.submit('3', 0, { port: 9001 }); // another peer: untouched
  await settle();
  const [first] = t.requests();
  assert.ok(first?.type === 'kv_request');
  // sweeps below stay within room 3's deadline: a cut is retried per sweep, not per unit of time
  t.rooms.peerLost('10.0.0.1:9000', 'prefill node stopped answering');
  await settle();
  assert.deepEqual(t.failures, [{ rid: 'r1', message: 'prefill node stopped answering', status: 502 }]);
  assert.deepEqual(t.notices().map((n) => n.room), ['1'], 'the peer is told, should it come back');
  assert.deepEqual(t.grants.calls.filter((c) => c.startsWith('cut')), [`cut ${first.writer}`]);
  assert.equal(t.allocator.freePages, 10, 'a stopped writer is alive: its pages stay quarantined');
  t.clock.now = 10;
  t.rooms.sweep();
  await settle();
  t.clock.now = 20;
  t.rooms.sweep();
  await settle();
  assert.equal(t.grants.calls.filter((c) => c.startsWith('cut')).length, 3, 'asked again on each sweep');
  assert.equal(t.allocator.freePages, 10);
  assert.equal(t.logLines.filter((l) => l.includes('lost prefill writer may still write')).length, 1, 'logged once');

  t.grants.cutAnswers.push(true);
  t.clock.now = 30;
  t.rooms.sweep();
  await settle();
  assert.equal(t.rooms.has('1'), false);
  assert.equal(t.rooms.has('3'), true, 'the other peer\'s room is untouched');
  assert.equal(t.allocator.freePages, 13);
  t.clock.now = 40;
  t.rooms.sweep();
  await settle();
  assert.equal(t.grants.calls.filter((c) => c.startsWith('cut')).length, 4, 'a cut writer is not asked again');

  t.submit('2', 40);
  await settle();
  const next = t.requests().find((m) => m.room === '2');
  assert.ok(next?.type === 'kv_request');
  assert.notEqual(next.writer, first.writer, 'a new token for the peer: a new link');
});

test('decode rooms: beyond the cap per prefill peer a room waits for pages (other peers go past it) and times out if it never gets them', async () => {
  const t = setup({ maxRoomsPerPeer: 2 });
  t.submit('1', 0);
  t.submit('2', 0);
  t.submit('3', 0);
  t.submit('4', 0, { port: 9001 });
  await settle();
  assert.deepEqual(t.requests().map((m) => m.room), ['1', '2', '4'], 'room 3 waits; room 4 (another peer) goes past it');
  assert.equal(t.failures.length, 0);
  // Room 1's KV arrives: room 3 gets its pages on the next pass.
  assert.ok(t.rooms.arrived('1'));
  t.clock.now = 10;
  t.rooms.preallocate();
  await settle();
  assert.deepEqual(t.requests().map((m) => m.room), ['1', '2', '4', '3']);
  // A fifth room for the full peer never gets pages: the bootstrap timeout fails it (504), naming the cap.
  t.submit('5', 20);
  await settle();
  t.clock.now = 20 + TIMEOUT_MS + 1;
  t.rooms.sweep();
  assert.equal(t.failures.length, 1);
  assert.equal(t.failures[0].rid, 'r5');
  assert.equal(t.failures[0].status, 504);
  assert.match(t.failures[0].message, /kept 2 rooms in transfer/);
  assert.equal(t.rooms.has('5'), false);
});

test('decode rooms: a late completion (kv_done after the room timed out here) confirms the release: the pages come back though release(unconfirmed) said false', async () => {
  const t = setup();
  t.grants.releaseAnswer = false;
  t.submit('1', 0);
  await settle();
  t.clock.now = 2 * TIMEOUT_MS + 1;
  t.rooms.sweep();
  await settle();
  assert.equal(t.failures.length, 1);
  assert.equal(t.allocator.freePages, 13, 'quarantined: shm/verbs cannot promise no byte lands');
  assert.equal(t.rooms.arrived('1'), null, 'the request already failed: it does not decode');
  await settle();
  assert.deepEqual(t.grants.calls.filter((c) => c.startsWith('release 1')), ['release 1 unconfirmed', 'release 1 confirmed']);
  assert.equal(t.rooms.has('1'), false);
  assert.equal(t.allocator.freePages, 16);
  assert.equal(t.failures.length, 1, 'not failed twice');
  assert.equal(t.notices().length, 1, 'prefill was told once, at the timeout');
});

test('decode rooms: prefill\'s failure of a queued room fails it with no grant; during the grant no list goes out and the pages come back once granted', async () => {
  const t = setup({ pages: 3 });
  t.submit('1', 0); // takes the whole pool
  t.submit('2', 0); // queued
  await settle();
  // Given up for capacity there (Retry-After): full, not broken.
  t.rooms.failedByPeer('2', 'prefill node is full', 1);
  assert.deepEqual(t.failures, [{ rid: 'r2', message: 'prefill node failed the request: prefill node is full', status: 503, retryAfterSecs: 1 }]);
  assert.equal(t.rooms.has('2'), false);
  assert.ok(!t.grants.calls.some((c) => c.startsWith('grant 2')));

  const u = setup();
  u.grants.holdGrants = true;
  u.submit('1', 0);
  u.rooms.failedByPeer('1', 'room closed');
  assert.deepEqual(u.failures, [{ rid: 'r1', message: 'prefill node failed the request: room closed', status: 502 }]);
  await settle();
  assert.equal(u.allocator.freePages, 13, 'held while the grant is being made');
  assert.ok(!u.grants.calls.includes('release 1 confirmed'), 'not released before the grant is in place');
  u.grants.releaseHeldGrants();
  await settle();
  assert.equal(u.requests().length, 0, 'no page list for a room that ended');
  assert.ok(u.grants.calls.includes('release 1 confirmed'));
  assert.equal(u.allocator.freePages, 16);
  assert.equal(u.notices().length, 0, 'prefill ended it: it is not told back');
});

test('decode rooms: a grant the receiver refuses fails the room (500), sends no page list and frees its pages', async () => {
  const t = setup();
  t.grants.grantError = 'pool region unmapped';
  t.submit('1', 0);
  await settle();
  await settle();
  assert.deepEqual(t.failures, [{ rid: 'r1', message: 'decode node could not prepare its KV receiver: pool region unmapped', status: 500 }]);
  assert.equal(t.requests().length, 0);
  assert.ok(t.grants.calls.includes('release 1 confirmed'));
  assert.equal(t.allocator.freePages, 16);
  assert.equal(t.rooms.has('1'), false);
});

test('decode rooms: a quarantined room takes no second abort, timeout or failure', async () => {
  const t = setup();
  t.grants.releaseAnswer = false;
  t.submit('1', 0);
  await settle();
  t.rooms.abort('1', 'client went away');
  await settle();
  t.rooms.abort('1', 'again');
  t.clock.now = 100 * TIMEOUT_MS;
  t.rooms.sweep();
  await settle();
  assert.equal(t.notices().length, 1);
  assert.equal(t.failures.length, 0, 'the abort answered the request (the scheduler did), nothing here');
  assert.equal(t.grants.calls.filter((c) => c === 'release 1 unconfirmed').length, 1);
  assert.equal(t.allocator.freePages, 13);
});

test('decode rooms: a cutWriter that fails is logged and asked again on the next sweep', async () => {
  const t = setup();
  t.submit('1', 0);
  await settle();
  t.grants.cutError = 'transfer actor did not answer';
  t.rooms.peerLost('10.0.0.1:9000', 'prefill node stopped answering');
  await settle();
  assert.equal(t.logLines.filter((l) => l.includes('cutting a lost KV writer failed')).length, 1);
  assert.equal(t.allocator.freePages, 13);
  t.grants.cutError = null;
  t.grants.cutAnswers.push(true);
  t.clock.now = 10;
  t.rooms.sweep();
  await settle();
  assert.equal(t.grants.calls.filter((c) => c.startsWith('cut')).length, 2);
  assert.equal(t.allocator.freePages, 16);
  assert.equal(t.rooms.size, 0);
});
