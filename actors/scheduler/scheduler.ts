/**
 * The scheduler actor's logic: continuous batching over the paged KV pool.
 *
 * Each step builds one batch: every running sequence that is decoding feeds one token, sequences
 * still prefilling feed chunks from a shared budget of `chunkedPrefillSize` tokens, and waiting
 * sequences are admitted (arrival order, or --schedule-policy's: schedule-policy.ts; no overtaking)
 * while slots and pages allow. A sequence gets pages for its whole prompt at admission and one more
 * page whenever decode crosses a page boundary. When the pool runs dry, the youngest running
 * sequence is retracted: its pages are freed and it waits to be recomputed. Because the engine is
 * batch- and chunk-invariant, the recompute reproduces its KV bit for bit, so retraction never
 * changes output; and since every accepted request fits the pool alone, the oldest sequence always
 * progresses: the pool being full means queueing, never failing.
 *
 * Steps are synchronous; messages (new requests, aborts) are handled between steps.
 *
 * PD roles reuse all of this. A prefill node computes the prompt as usual, hands each finished
 * chunk's pages to `PrefillRooms` for transfer, and stops after the first token. A decode node
 * queues the request in `DecodeRooms` for preallocation instead of prefilling it; when prefill's
 * notice arrives the sequence is ready to decode, with its prompt already `computed` (after the
 * engine checked the arrived KV, if it can: the synthetic engine). Ready sequences join the running
 * batch in arrival order while it is below --max-running-requests, ahead of waiting ones: they hold
 * their pages already (a waiting sequence at the head that needs those pages would otherwise wait
 * for sequences that cannot run), and each needs at most one more page per step. Sequences whose
 * pages a transfer may be reading are never retracted.
 */
import { EngineLostError, type Engine, type ForwardItem } from '../../src/engine/engine.js';
import { bytesPerToken } from '../../src/kv/layout.js';
import type { Logger } from '../../src/log/logger.js';
import type { TextTokenizer } from '../../src/model/types.js';
import { IncrementalDetokenizer } from '../../src/model/incremental-detokenizer.js';
import { drawsPerToken, type Sampler } from '../../src/sampling/sampler.js';
import { rowLogsumexp, topLogprobs } from '../../src/sampling/logprobs.js';
import type { KvAllocator } from '../../src/kv/kv-allocator.js';
import type { FinishReason, TokenLogprob } from '../../src/generation/output.js';
import { RETRY_AFTER_SECS, type FirstToken, type GenerateRequest, type SchedulerOutbound, type SchedulerStats } from './protocol.js';
import type { RoomTarget } from './prefill-rooms.js';
import { PrefillRooms } from './prefill-rooms.js';
import { DecodeRooms, type RoomGrants } from './decode-rooms.js';
import type { RoomWriter } from './room-writer.js';
import { Sequence } from './sequence.js';
import { waitingOrder, type SchedulePolicy, type WaitingOrder } from './schedule-policy.js';

export interface SchedulerLimits {
  maxRunningRequests: number;
  chunkedPrefillSize: number;
  contextLength: number;
  /** `--schedule-policy` (schedule-policy.ts); default fcfs. */
  schedulePolicy?: SchedulePolicy;
  /** `--random-seed`: seeds requests without a seed of their own (sequence.ts) and the random policy. */
  randomSeed?: number | null;
}

/**
 * PD settings; absent for a colocated node. `maxRooms`: rooms in total on a decode node, claimed
 * rooms per decode node on a prefill node; `maxUnclaimedRooms` (prefill): rooms waiting for a
 * decode node's page list (prefill-rooms.ts).
 */
export type PdSettings =
  | { role: 'prefill'; writer: RoomWriter; bootstrapTimeoutMs: number; transferTimeoutMs: number; maxRooms: number; maxUnclaimedRooms: number }
  | { role: 'decode'; grants: RoomGrants; bootstrapTimeoutMs: number; transferTimeoutMs: number; maxRooms: number; maxRoomsPerPeer: number };

export interface SchedulerDeps {
  engine: Engine;
  allocator: KvAllocator;
  tokenizer: TextTokenizer;
  sampler: Sampler;
  emit: (msg: SchedulerOutbound) => void;
  log: Logger;
  now?: () => number;
}

/** One sequence's part of the batch being built. */
interface Slot {
  seq: Sequence;
  item: ForwardItem;
}

export class Scheduler {
  private readonly waiting: Sequence[] = [];
  private readonly running: Sequence[] = [];
  /** PD decode: sequences whose KV arrived, waiting for a running slot, in arrival order (they hold their pages). */
  private readonly ready: Sequence[] = [];
  private readonly byRid = new Map<string, Sequence>();
  private arrivals = 0;
  private readonly prefillRooms: PrefillRooms | null = null;
  private readonly decodeRooms: DecodeRooms | null = null;
  private readonly maxRooms: number = 0;
  private readonly now: () => number;
  private readonly order: WaitingOrder | null;

  constructor(private readonly limits: SchedulerLimits, private readonly deps: SchedulerDeps, pd?: PdSettings) {
    this.now = deps.now ?? Date.now;
    this.order = waitingOrder(limits.schedulePolicy ?? 'fcfs', limits.randomSeed ?? null);
    const onFailed = (seq: Sequence, message: string, status: number, retryAfterSecs?: number): void => this.answerError(seq, message, status, retryAfterSecs);
    if (pd?.role === 'prefill') {
      this.maxRooms = pd.maxRooms;
      this.prefillRooms = new PrefillRooms({
        allocator: deps.allocator, writer: pd.writer, emit: deps.emit, log: deps.log, pageSize: deps.allocator.pageSize,
        bootstrapTimeoutMs: pd.bootstrapTimeoutMs, transferTimeoutMs: pd.transferTimeoutMs, maxParkedTargets: pd.maxRooms,
        // As many ended rooms remembered as may wait unclaimed: each is a few words, and a late page
        // list or request for any of them is still answered at once.
        maxUnclaimed: pd.maxUnclaimedRooms, maxPerPeer: pd.maxRooms, maxClosed: pd.maxUnclaimedRooms, now: this.now,
        onClaimed: (seq) => this.claimed(seq), onFailed,
      });
    } else if (pd?.role === 'decode') {
      this.maxRooms = pd.maxRooms;
      this.decodeRooms = new DecodeRooms({
        allocator: deps.allocator, grants: pd.grants, emit: deps.emit, log: deps.log, bootstrapTimeoutMs: pd.bootstrapTimeoutMs, transferTimeoutMs: pd.transferTimeoutMs,
        maxRoomsPerPeer: pd.maxRoomsPerPeer, now: this.now, onFailed,
      });
    }
  }

  hasWork(): boolean {
    return this.waiting.length > 0 || this.running.length > 0 || this.ready.length > 0;
  }

  /** PD rooms still open (they need `sweep` calls, not steps). */
  openRooms(): number {
    return (this.prefillRooms?.size ?? 0) + (this.decodeRooms?.size ?? 0);
  }

  stats(): SchedulerStats {
    const a = this.deps.allocator;
    return {
      running: this.running.length,
      waiting: this.waiting.length + this.ready.length,
      totalPages: a.totalPages,
      freePages: a.freePages,
      pageSize: a.pageSize,
      maxTotalTokens: a.totalPages * a.pageSize,
      pageTables: a.tableCount,
      pdRooms: this.openRooms(),
    };
  }

  /** Validates and tokenizes a request; answers 'rejected' or 'accepted'. */
  submit(req: GenerateRequest): void {
    const { rid } = req;
    if (this.byRid.has(rid)) return this.deps.emit({ type: 'rejected', rid, message: `request id "${rid}" is already in flight` });
    let ids: number[];
    try {
      ids = this.promptIds(req);
    } catch (err) {
      return this.deps.emit({ type: 'rejected', rid, message: (err as Error).message });
    }
    const problem = this.checkPrompt(ids, req);
    if (problem) return this.deps.emit({ type: 'rejected', rid, message: problem });
    const pdProblem = this.checkPd(req);
    if (pdProblem?.busy) return this.deps.emit({ type: 'busy', rid, message: pdProblem.message, retryAfterSecs: RETRY_AFTER_SECS });
    if (pdProblem) return this.deps.emit({ type: 'rejected', rid, message: pdProblem.message });
    const detok = new IncrementalDetokenizer(this.deps.tokenizer, { skipSpecialTokens: req.sampling.skipSpecialTokens });
    const seq = new Sequence(req, ids, this.arrivals++, this.limits.contextLength, detok, this.limits.randomSeed ?? null);
    this.byRid.set(rid, seq);
    this.deps.emit({ type: 'accepted', rid, promptTokens: ids.length });
    if (req.pd && this.decodeRooms) {
      this.decodeRooms.enqueue(seq, req.pd);
      this.decodeRooms.preallocate();
      return;
    }
    if (req.pd && this.prefillRooms) {
      // Computed once a decode node claims the room (`claimed`), not before: see prefill-rooms.ts.
      const closed = this.prefillRooms.track(seq, req.pd.room);
      if (closed !== null) this.answerError(seq, `decode node failed the request: ${closed}`, 502);
      return;
    }
    this.waiting.push(seq);
  }

  /** Prefill: a decode node claimed the sequence's room; it queues for compute in arrival order. */
  private claimed(seq: Sequence): void {
    if (!this.byRid.has(seq.rid)) return;
    insertByArrival(this.waiting, seq);
  }

  /** PD: the decode node's page list for a room (prefill role). */
  kvTarget(room: string, target: RoomTarget): void {
    this.prefillRooms?.target(room, target);
  }

  /** PD: prefill's notice that a room's KV is in place, with the first token (decode role). */
  kvArrived(room: string, first: FirstToken): void {
    const seq = this.decodeRooms?.arrived(room);
    if (!seq || !this.arrivedKvIntact(seq, room)) return;
    seq.computed = seq.promptLen;
    // max_new_tokens 0: the prompt's KV is here and nothing is to be generated.
    if (seq.maxNewTokens === 0) return this.finish(seq, { type: 'length', length: 0 });
    seq.rng.skip(first.draws);
    seq.tokens.push(first.id);
    insertByArrival(this.ready, seq);
    this.emitToken(seq, first.id, first.logprob ? [first.logprob] : undefined, first.logprob ? [first.topLogprobs ?? null] : undefined);
  }

  /**
   * PD, decode: checks a room's arrived KV when the engine can (synthetic). A wrong byte fails the
   * request (502: the prefill side sent it) and frees its pages; no transfer uses them any more.
   */
  private arrivedKvIntact(seq: Sequence, room: string): boolean {
    const engine = this.deps.engine;
    if (!engine.verifyKv) return true;
    const started = performance.now();
    const problem = engine.verifyKv(seq.tokens, this.deps.allocator.table(seq.rid), 0, seq.promptLen);
    const ms = performance.now() - started;
    this.deps.emit({ type: 'kv_verified', room, bytes: seq.promptLen * bytesPerToken(engine.layout), ms, ok: problem === null });
    if (problem === null) return true;
    this.deps.log.error({ rid: seq.rid, room, problem }, 'arrived KV cache failed verification');
    this.answerError(seq, `KV cache verification failed: ${problem}; the KV the prefill node sent does not match this prompt`, 502);
    return false;
  }

  /** PD: the other side failed a room (`peerId`: the decode node, on the prefill side). */
  roomFailed(room: string, message: string, peerId: string | undefined, retryAfterSecs?: number): void {
    if (this.decodeRooms) return this.decodeRooms.failedByPeer(room, message, retryAfterSecs);
    if (!this.prefillRooms || peerId === undefined) return;
    const text = `decode node failed the request: ${message}`;
    this.prefillRooms.failedByPeer(room, peerId, message);
    const seq = this.seqOfRoom(room);
    if (seq) this.answerError(seq, text, 502);
  }

  /** PD: a peer node stopped answering; every room shared with it fails. */
  peerLost(peerId: string, message: string): void {
    this.prefillRooms?.peerLost(peerId, message);
    this.decodeRooms?.peerLost(peerId, message);
  }

  /** PD: timeouts of rooms waiting on the other side; retried preallocation. */
  sweep(): void {
    this.prefillRooms?.sweep();
    this.decodeRooms?.sweep();
    this.decodeRooms?.preallocate();
  }

  /** `busy`: a capacity refusal (503 + Retry-After), else bad input (400). */
  private checkPd(req: GenerateRequest): { message: string; busy: boolean } | null {
    // Without PD fields a PD node serves the request alone (health probes, direct tests); a colocated
    // node ignores PD fields.
    if (!req.pd || (!this.prefillRooms && !this.decodeRooms)) return null;
    if (this.seqOfRoom(req.pd.room) || this.prefillRooms?.has(req.pd.room) || this.decodeRooms?.has(req.pd.room)) return { message: `bootstrap_room ${req.pd.room} is already in flight`, busy: false };
    // Prefill rooms are bounded when claimed (per decode node) and while unclaimed (by eviction): prefill-rooms.ts.
    if (this.decodeRooms && this.decodeRooms.size >= this.maxRooms) return { message: `decode node is full: ${this.maxRooms} rooms in flight; retry`, busy: true };
    return null;
  }

  private seqOfRoom(room: string): Sequence | undefined {
    for (const seq of this.byRid.values()) if (seq.req.pd?.room === room) return seq;
    return undefined;
  }

  /** Drops a request wherever it is and frees its pages; no event follows. */
  abort(rid: string, reason: string): void {
    const seq = this.byRid.get(rid);
    if (!seq) return;
    this.deps.log.info({ rid, room: seq.req.pd?.room, reason }, 'request aborted');
    this.endRoom(seq, `request aborted: ${reason}`);
    this.remove(seq);
  }

  /** Runs one forward step over the batch it builds. */
  step(): void {
    const slots = this.buildBatch();
    if (slots.length === 0) return;
    let logits: Float32Array[];
    try {
      logits = this.deps.engine.forward(slots.map((s) => s.item));
    } catch (err) {
      // An engine fault fails this batch only; the pool and other requests are untouched. A lost
      // engine can run no further step: rethrown, it ends this actor, which fails every other
      // request and stops the node (its peers and the router then see it gone, as after a kill).
      this.deps.log.error({ err, rids: slots.map((s) => s.seq.rid) }, 'forward step failed');
      for (const { seq } of slots) this.endRoomAndAnswerError(seq, `engine error: ${(err as Error).message}`, 500);
      if (err instanceof EngineLostError) throw err;
      return;
    }
    for (let i = 0; i < slots.length; i++) this.afterForward(slots[i], logits[i]);
  }

  private promptIds(req: GenerateRequest): number[] {
    const tok = this.deps.tokenizer;
    const input = req.input;
    if (input.kind === 'ids') return input.ids;
    if (input.kind === 'text') return tok.encode(input.text, true);
    return tok.encode(tok.applyChatTemplate(input.messages, true), false);
  }

  private checkPrompt(ids: number[], req: GenerateRequest): string | null {
    const vocab = this.deps.engine.vocabSize;
    const ctx = this.limits.contextLength;
    if (ids.length === 0) return 'the prompt is empty';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= vocab) return `input_ids[${i}] = ${id} is outside the vocabulary [0, ${vocab})`;
    }
    if (ids.length >= ctx) return `the prompt has ${ids.length} tokens; the model's context length is ${ctx}, so at most ${ctx - 1} prompt tokens fit`;
    const need = ids.length + Math.min(req.sampling.maxNewTokens, ctx - ids.length);
    const a = this.deps.allocator;
    if (a.pagesFor(need) > a.totalPages) {
      return `prompt (${ids.length} tokens) plus max_new_tokens needs ${need} tokens of KV cache; the pool holds ${a.totalPages * a.pageSize} (--max-total-tokens)`;
    }
    return null;
  }

  private buildBatch(): Slot[] {
    // Pages freed by the last step go to queued PD rooms first (they were waiting before anyone here).
    this.decodeRooms?.preallocate();
    while (this.ready.length > 0 && this.running.length < this.limits.maxRunningRequests) {
      insertByArrival(this.running, this.ready.shift()!);
    }
    const slots: Slot[] = [];
    let budget = this.limits.chunkedPrefillSize;
    // Oldest first, so retraction (which takes the youngest) never hits a sequence already in the batch.
    for (let i = 0; i < this.running.length; i++) {
      const seq = this.running[i];
      if (seq.pending === 1) {
        if (!this.ensurePages(seq)) {
          if (this.running[i] !== seq) i--; // `seq` itself was retracted: the next sequence moved into slot i
          continue;
        }
        slots.push(this.slot(seq, 1));
      } else if (budget > 0) {
        const n = Math.min(seq.pending, budget);
        budget -= n;
        slots.push(this.slot(seq, n));
      }
    }
    const a = this.deps.allocator;
    if (this.order !== null && this.waiting.length > 1 && this.running.length < this.limits.maxRunningRequests && budget > 0) this.order(this.waiting);
    while (this.waiting.length > 0 && this.running.length < this.limits.maxRunningRequests && budget > 0) {
      const seq = this.waiting[0];
      const cover = Math.min(seq.tokens.length + 1, seq.maxTokens);
      // Keep a page of headroom per running sequence so admission does not force an immediate retraction.
      if (a.missingPages(seq.rid, cover) + this.running.length > a.freePages && this.running.length > 0) break;
      if (!a.ensure(seq.rid, cover)) break;
      this.waiting.shift();
      this.running.push(seq);
      const n = seq.pending === 1 ? 1 : Math.min(seq.pending, budget);
      if (seq.pending > 1) budget -= n;
      slots.push(this.slot(seq, n));
    }
    return slots;
  }

  /** Pages for `seq`'s next decode position, retracting the youngest sequences if needed. */
  private ensurePages(seq: Sequence): boolean {
    const a = this.deps.allocator;
    while (!a.ensure(seq.rid, seq.tokens.length)) {
      let v = this.running.length - 1;
      while (v >= 0 && this.pinned(this.running[v])) v--;
      if (v < 0) return false; // only pinned sequences left: wait for them to finish
      const victim = this.running[v];
      this.retract(victim);
      if (victim === seq) return false;
    }
    return true;
  }

  /** A prefill-side PD sequence's pages may be being read by a transfer: never retract it. */
  private pinned(seq: Sequence): boolean {
    return this.prefillRooms !== null && seq.req.pd !== undefined;
  }

  private retract(seq: Sequence): void {
    this.deps.log.debug({ rid: seq.rid, tokens: seq.tokens.length }, 'pool full: sequence retracted for recompute');
    this.deps.allocator.release(seq.rid);
    seq.computed = 0;
    this.running.splice(this.running.indexOf(seq), 1);
    insertByArrival(this.waiting, seq);
  }

  private slot(seq: Sequence, n: number): Slot {
    const start = seq.computed;
    const completes = start + n === seq.tokens.length;
    const logits = seq.inputLogprobsPending ? 'all' : completes ? 'last' : 'none';
    const tokens = new Int32Array(n);
    for (let i = 0; i < n; i++) tokens[i] = seq.tokens[start + i];
    // The page table is a view of the allocator's: no copy per step (the engine only reads it).
    const item: ForwardItem = { tokens, startPos: start, pageTable: this.deps.allocator.table(seq.rid), logits };
    return { seq, item };
  }

  private afterForward({ seq, item }: Slot, logits: Float32Array): void {
    const n = item.tokens.length;
    const vocab = this.deps.engine.vocabSize;
    if (seq.inputLogprobsPending) this.collectInputLogprobs(seq, item.startPos, n, logits);
    seq.computed += n;
    const room = this.prefillRooms ? seq.req.pd?.room : undefined;
    if (seq.computed < seq.tokens.length) {
      if (room !== undefined) this.prefillRooms!.progress(room);
      return;
    }
    // max_new_tokens 0 (prefill only, e.g. for input logprobs); a PD prefill still samples the first
    // token, which the decode side needs to complete the room.
    if (seq.maxNewTokens === 0 && room === undefined) return this.finish(seq, { type: 'length', length: 0 });
    const offset = item.logits === 'all' ? (n - 1) * vocab : 0;
    const row = offset === 0 && logits.length === vocab ? logits : logits.subarray(offset, offset + vocab);
    const token = this.deps.sampler.sample(row, seq.sampling, seq.rng);
    seq.tokens.push(token);
    const { logprobs, top } = this.outputLogprobs(seq, token, row);
    if (room !== undefined) return this.prefillDone(seq, room, token, logprobs, top);
    this.emitToken(seq, token, logprobs, top);
  }

  /** Prefill role: the first token ends this node's part; the room sends it with the notice. */
  private prefillDone(seq: Sequence, room: string, token: number, logprobs?: TokenLogprob[], top?: (TokenLogprob[] | null)[]): void {
    this.prefillRooms!.complete(room, { id: token, logprob: logprobs?.[0], topLogprobs: top?.[0], draws: drawsPerToken(seq.sampling) });
    if (seq.maxNewTokens === 0) {
      // The token went to decode for the room only; this node's client asked for no output.
      seq.tokens.pop();
      return this.finish(seq, { type: 'length', length: 0 });
    }
    this.deps.emit({ type: 'tokens', rid: seq.rid, ids: [token], text: '', logprobs, topLogprobs: top, ...this.inputLogprobsOnce(seq) });
    this.finish(seq, { type: 'length', length: 1 });
  }

  private outputLogprobs(seq: Sequence, token: number, row: Float32Array): { logprobs?: TokenLogprob[]; top?: (TokenLogprob[] | null)[] } {
    if (!seq.req.returnLogprob) return {};
    const lse = rowLogsumexp(row, 0, row.length);
    const n = seq.req.topLogprobsNum;
    return {
      logprobs: [this.named(seq, [row[token] - lse, token, null])],
      top: [n > 0 ? topLogprobs(row, 0, row.length, n, lse).map((t) => this.named(seq, t)) : null],
    };
  }

  /** Input logprob of prompt token p+1 comes from the logits row of position p. */
  private collectInputLogprobs(seq: Sequence, start: number, n: number, logits: Float32Array): void {
    const vocab = this.deps.engine.vocabSize;
    const from = Math.max(0, seq.req.logprobStartLen);
    const top = seq.req.topLogprobsNum;
    if (start === 0 && from === 0) {
      seq.inputLogprobs.push(this.named(seq, [null, seq.tokens[0], null]));
      seq.inputTopLogprobs.push(null);
    }
    for (let j = 0; j < n; j++) {
      const target = start + j + 1;
      if (target >= seq.promptLen) break;
      if (target < from) continue;
      const lse = rowLogsumexp(logits, j * vocab, vocab);
      seq.inputLogprobs.push(this.named(seq, [logits[j * vocab + seq.tokens[target]] - lse, seq.tokens[target], null]));
      seq.inputTopLogprobs.push(top > 0 ? topLogprobs(logits, j * vocab, vocab, top, lse).map((t) => this.named(seq, t)) : null);
    }
    if (start + n >= seq.promptLen) seq.inputLogprobsPending = false;
  }

  /** Fills a logprob tuple's token text when the request asked for it. */
  private named(seq: Sequence, t: TokenLogprob): TokenLogprob {
    if (seq.req.returnTextInLogprobs) t[2] = this.deps.tokenizer.decode([t[1]], false);
    return t;
  }

  private emitToken(seq: Sequence, token: number, logprobs?: TokenLogprob[], top?: (TokenLogprob[] | null)[]): void {
    const p = seq.sampling;
    let finish: FinishReason | null = null;
    let text: string;
    const isStopToken = (!p.ignoreEos && this.deps.tokenizer.eosTokenIds.includes(token)) || p.stopTokenIds.includes(token);
    if (isStopToken) {
      text = seq.stopMatcher.flush();
      finish = { type: 'stop', matched: token };
    } else {
      const r = seq.stopMatcher.push(seq.detokenizer.push(token));
      text = r.text;
      if (r.matched !== null) finish = { type: 'stop', matched: r.matched };
      else if (seq.outputLen >= seq.maxNewTokens) {
        text += seq.stopMatcher.push(seq.detokenizer.flush()).text + seq.stopMatcher.flush();
        finish = { type: 'length', length: seq.outputLen };
      }
    }
    this.deps.emit({ type: 'tokens', rid: seq.rid, ids: [token], text, logprobs, topLogprobs: top, ...this.inputLogprobsOnce(seq) });
    if (finish) this.finish(seq, finish);
  }

  /**
   * The prompt's logprobs go with the first output event, as SGLang's first stream chunk carries them
   * (mini_lb reads them from the prefill's first chunk); the finished meta repeats them for readers of
   * the whole answer.
   */
  private inputLogprobsOnce(seq: Sequence): Pick<Extract<SchedulerOutbound, { type: 'tokens' }>, 'inputTokenLogprobs' | 'inputTopLogprobs'> {
    if (seq.inputLogprobsSent || !seq.req.returnLogprob || seq.req.logprobStartLen < 0) return {};
    seq.inputLogprobsSent = true;
    return { inputTokenLogprobs: seq.inputLogprobs, inputTopLogprobs: seq.req.topLogprobsNum > 0 ? seq.inputTopLogprobs : undefined };
  }

  private finish(seq: Sequence, finishReason: FinishReason): void {
    this.remove(seq);
    const withInput = seq.req.returnLogprob && seq.req.logprobStartLen >= 0;
    this.deps.emit({
      type: 'finished',
      rid: seq.rid,
      meta: {
        finishReason,
        promptTokens: seq.promptLen,
        completionTokens: seq.outputLen,
        cachedTokens: 0,
        outputIds: seq.tokens.slice(seq.promptLen),
        inputTokenLogprobs: withInput ? seq.inputLogprobs : undefined,
        inputTopLogprobs: withInput && seq.req.topLogprobsNum > 0 ? seq.inputTopLogprobs : undefined,
      },
    });
  }

  /** Ends the request's PD room from this side (telling the peer) and answers the request with an error. */
  private endRoomAndAnswerError(seq: Sequence, message: string, status: number): void {
    this.endRoom(seq, message);
    this.answerError(seq, message, status);
  }

  /** Answers a request with an error; its room (if any) was already dealt with. */
  private answerError(seq: Sequence, message: string, status: number, retryAfterSecs?: number): void {
    if (!this.byRid.has(seq.rid)) return;
    this.remove(seq);
    this.deps.emit({ type: 'failed', rid: seq.rid, message, status, retryAfterSecs });
  }

  /** Ends a PD room from this side; the room code then owns the sequence's pages. */
  private endRoom(seq: Sequence, message: string): void {
    const room = seq.req.pd?.room;
    if (room === undefined) return;
    this.prefillRooms?.fail(room, message, { tellDecode: true });
    this.decodeRooms?.abort(room, message);
  }

  private remove(seq: Sequence): void {
    // Pages of an open PD room belong to the room code (a transfer may still use them).
    const room = seq.req.pd?.room;
    const roomOwnsPages = room !== undefined && (this.prefillRooms?.has(room) || this.decodeRooms?.has(room));
    if (!roomOwnsPages) this.deps.allocator.release(seq.rid);
    this.byRid.delete(seq.rid);
    for (const list of [this.running, this.waiting, this.ready]) {
      const i = list.indexOf(seq);
      if (i >= 0) list.splice(i, 1);
    }
  }
}

/** Puts `seq` into `list` (kept in arrival order) after every sequence that arrived before it; found from the end, where newcomers usually go. */
function insertByArrival(list: Sequence[], seq: Sequence): void {
  let at = list.length;
  while (at > 0 && list[at - 1].arrival > seq.arrival) at--;
  list.splice(at, 0, seq);
}
