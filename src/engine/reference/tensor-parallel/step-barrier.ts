/**
 * The barrier that keeps the `--tp` ranks of one forward step in lock step, over a few Int32 slots of
 * shared memory (the kernels' WebAssembly memory), usable from every thread without messages.
 *
 * Decisions:
 * - Generation counting: each arrival increments COUNT; the last one resets it and bumps GEN, which
 *   the others wait on (Atomics.wait). A short spin before sleeping saves the sleep/wake round trip
 *   when the other ranks are a few microseconds behind (the usual case between two matmul phases).
 * - A failing rank records its message and bumps GEN with FAILED set, so no rank waits for it: every
 *   waiter throws with that message. FAILED is never cleared: a failed step leaves the ranks out of
 *   phase (and a rank may be gone), so every later arrival throws too (EngineLostError). STOP wakes
 *   idle ranks to exit.
 * - Every wait is bounded: inside a step by `phaseTimeoutMs` (a rank that neither arrives nor fails
 *   has died); an idle rank waits for the next step without bound, in slices that re-check STOP.
 */

import { EngineLostError } from '../../engine.js';

/** Int32 slots of the control block. */
export const CTL = {
  GEN: 0,
  COUNT: 1,
  FAILED: 2,
  STOP: 3,
  /** Bytes of the failure message (UTF-8, after the slots). */
  ERROR_LEN: 4,
  /** First slot free for the step's parameters (owned by the engine). */
  PARAMS: 8,
} as const;

/** Int32 slots for the step parameters the engine passes (see tp-group.ts). */
export const PARAM_SLOTS = 24;
/** Bytes of the failure message kept (longer ones are cut). */
const ERROR_BYTES = 1024;
/** Bytes of the whole control block. */
export const CONTROL_BYTES = (CTL.PARAMS + PARAM_SLOTS) * 4 + ERROR_BYTES;
/** Polls of GEN before sleeping on it (about a microsecond each). */
const SPIN = 2000;
/** Slice of an idle wait: how often an idle rank re-checks STOP. */
const IDLE_SLICE_MS = 1000;

export class StepBarrier {
  private readonly ctl: Int32Array;
  private readonly errorBytes: Uint8Array;

  constructor(buffer: ArrayBufferLike, address: number, private readonly parties: number, private readonly phaseTimeoutMs: number) {
    this.ctl = new Int32Array(buffer, address, CTL.PARAMS + PARAM_SLOTS);
    this.errorBytes = new Uint8Array(buffer, address + (CTL.PARAMS + PARAM_SLOTS) * 4, ERROR_BYTES);
  }

  /** The step parameter slots (written by rank 0 before it arrives at the start barrier). */
  get params(): Int32Array {
    return this.ctl.subarray(CTL.PARAMS);
  }

  /** Waits until every rank has arrived (throws if a rank failed, or after the phase timeout). */
  arrive(): void {
    this.arriveWithin(this.phaseTimeoutMs);
  }

  /** An idle rank's wait for the next step: true when it starts, false when the group stops. */
  awaitStep(): boolean {
    this.arriveWithin(Infinity);
    return Atomics.load(this.ctl, CTL.STOP) === 0;
  }

  /** Records `message` (unless a failure is already recorded) and wakes every rank (they throw it). */
  fail(message: string): void {
    if (Atomics.compareExchange(this.ctl, CTL.FAILED, 0, 1) === 0) {
      const bytes = Buffer.from(message).subarray(0, ERROR_BYTES);
      this.errorBytes.set(bytes);
      Atomics.store(this.ctl, CTL.ERROR_LEN, bytes.length);
    }
    this.wakeAll();
  }

  /** Asks idle ranks to exit. */
  stop(): void {
    Atomics.store(this.ctl, CTL.STOP, 1);
    this.wakeAll();
  }

  private wakeAll(): void {
    Atomics.add(this.ctl, CTL.GEN, 1);
    Atomics.notify(this.ctl, CTL.GEN);
  }

  /** `arrive` with another bound (start-up). */
  arriveWithin(timeoutMs: number): void {
    const ctl = this.ctl;
    const gen = Atomics.load(ctl, CTL.GEN);
    this.throwIfFailed();
    if (Atomics.add(ctl, CTL.COUNT, 1) === this.parties - 1) {
      Atomics.store(ctl, CTL.COUNT, 0);
      this.wakeAll();
      return;
    }
    for (let i = 0; i < SPIN && Atomics.load(ctl, CTL.GEN) === gen; i++);
    const deadline = Date.now() + timeoutMs;
    while (Atomics.load(ctl, CTL.GEN) === gen && Atomics.load(ctl, CTL.STOP) === 0) {
      const left = deadline - Date.now();
      if (left <= 0) this.fail(`tensor-parallel rank did not reach the barrier within ${timeoutMs} ms (a worker thread died or hung)`);
      Atomics.wait(ctl, CTL.GEN, gen, Math.min(left, IDLE_SLICE_MS));
    }
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (Atomics.load(this.ctl, CTL.FAILED) === 0) return;
    const len = Atomics.load(this.ctl, CTL.ERROR_LEN);
    throw new EngineLostError(`tensor-parallel step failed: ${Buffer.from(this.errorBytes.subarray(0, len)).toString()}`);
  }
}
