/**
 * The protocol of a device's completion poller (poller-worker.ts). Control travels through the
 * shared ring (completion-ring.ts: the stop word) and an eventfd that wakes the poller's poll(2),
 * because the poller's thread is inside a blocking loop and never turns an event loop to read
 * messages; the poller only posts the messages below.
 */
import type { CqHandles } from '../../../../native/verbs/cq-poll-handle.js';

export interface PollerWorkerData {
  handles: CqHandles;
  /** The completion ring's SharedArrayBuffer. */
  ring: SharedArrayBuffer;
  /** An eventfd the owner signals to wake the poller (to stop it). */
  wakeFd: number;
  /** How long to keep polling back to back after the last completion before sleeping. */
  spinMs: number;
  /** Upper bound on one sleep; normally the channel or the eventfd ends it first. */
  sleepMs: number;
}

export type PollerMessage = { type: 'started' } | { type: 'failed'; message: string };
