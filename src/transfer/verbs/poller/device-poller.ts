/**
 * The transfer actor's side of one RDMA device's completion poller: starts the poller worker over
 * the device's CQ, drains the completion ring and hands each completion to the lane (queue pair) it
 * belongs to.
 *
 * Decisions:
 * - Lanes register a handler and get an id; requests are posted with `wr_id = id * 2^32 + seq`, so a
 *   completion finds its lane by the high word. Ids are not reused while the device lives, so a late
 *   completion of a destroyed queue pair (flushed requests) is dropped, never taken for another's.
 * - A poller that fails or exits tells every lane (`lost`), so their writes fail instead of hanging.
 * - Started and stopped through the one actor helper (src/util/actor/worker-actor.ts). `stop` asks
 *   the worker to end (stop word + eventfd), waits for it (bounded; terminated after that), then
 *   acknowledges the channel events it took and did not acknowledge, so the CQ can be
 *   destroyed. The owner destroys the CQ and the channel after `stop`.
 */
import { close as closeFd, eventFd, eventFdSignal } from '../../../../native/libc.js';
import type { CompletionQueue } from '../../../../native/verbs/completion-queue.js';
import { WorkerActor } from '../../../util/actor/worker-actor.js';
import { CompletionRing, type PollerCounters } from './completion-ring.js';
import type { PollerMessage, PollerWorkerData } from './protocol.js';

/** Where a lane's completions go. */
export interface LaneHandler {
  /** A completion of the lane's request `seq` (low 32 bits of its sequence number). */
  complete(seq: number, status: number, vendorErr: number): void;
  /** The poller is gone: no completion will come. */
  lost(reason: string): void;
}

/** The poller keeps polling this long after the last completion before it sleeps on the channel. */
const SPIN_MS = 0.05;
/** Upper bound on one sleep (the channel or the stop eventfd normally ends it first). */
const SLEEP_MS = 1000;
/** Start-up of the poller worker (it loads libibverbs: see the transfer actor's startMs for why this is generous). */
const START_MS = 120_000;
const STOP_MS = 5_000;

/** Lane ids fit in the high word of a safe-integer wr_id. */
const MAX_LANE_ID = 2 ** 21 - 1;
const WORKER_URL = new URL('./poller-worker.js', import.meta.url);

export class DevicePoller {
  private readonly lanes = new Map<number, LaneHandler>();
  private lastLane = 0;
  private gone: string | null = null;
  private stopping = false;
  private constructor(
    readonly deviceName: string,
    private readonly cq: CompletionQueue,
    private readonly ring: CompletionRing,
    private readonly wakeFd: number,
    private readonly actor: WorkerActor<true>,
  ) {
    actor.worker.on('message', (msg: PollerMessage) => {
      if (msg.type === 'failed') this.lose(`the completion poller of ${deviceName} failed: ${msg.message}`);
    });
    actor.onGone((reason) => this.lose(reason));
    void this.consume();
  }

  /** Starts the poller over `cq` (made with a completion channel). */
  static async start(cq: CompletionQueue): Promise<DevicePoller> {
    const handles = cq.pollHandles();
    const ring = CompletionRing.create(cq.entries);
    const wakeFd = eventFd();
    const workerData: PollerWorkerData = { handles, ring: ring.buffer, wakeFd, spinMs: SPIN_MS, sleepMs: SLEEP_MS };
    const name = `the completion poller of ${handles.deviceName}`;
    try {
      const actor = await WorkerActor.spawn<true>({
        name, url: WORKER_URL, workerData, startMs: START_MS,
        handshake: (msg) => {
          const m = msg as PollerMessage;
          return m.type === 'started' ? true : new Error(`${name} could not start: ${m.message}`);
        },
      });
      return new DevicePoller(handles.deviceName, cq, ring, wakeFd, actor);
    } catch (err) {
      closeFd(wakeFd);
      throw err;
    }
  }

  /** Registers a lane; its requests must carry `wr_id = id * 2^32 + seq`. */
  register(handler: LaneHandler): number {
    if (this.gone) throw new Error(this.gone);
    if (this.lastLane === MAX_LANE_ID) throw new Error(`${this.deviceName}: out of lane ids (${MAX_LANE_ID} queue pairs made on this device)`);
    const id = ++this.lastLane;
    this.lanes.set(id, handler);
    return id;
  }

  unregister(id: number): void {
    this.lanes.delete(id);
  }

  /** The poller's counters (events woken for, sleeps): how idle it is. */
  counters(): PollerCounters {
    return this.ring.counters();
  }

  /** Stops the worker and acknowledges the events it left; the CQ may be destroyed afterwards. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.actor.stop(() => {
      this.ring.requestStop();
      eventFdSignal(this.wakeFd);
    }, STOP_MS);
    const { events, acked } = this.ring.counters();
    this.cq.countEvent((events - acked) | 0);
    closeFd(this.wakeFd);
  }

  private readonly dispatch = (lane: number, seq: number, status: number, vendorErr: number): void => {
    this.lanes.get(lane)?.complete(seq, status, vendorErr);
  };

  private async consume(): Promise<void> {
    while (!this.stopping && !this.gone) {
      this.ring.drain(this.dispatch);
      await this.ring.published();
    }
  }

  private lose(reason: string): void {
    if (this.gone) return;
    this.gone = reason;
    this.ring.requestStop(); // ends `consume`
    if (this.stopping) return;
    for (const handler of this.lanes.values()) handler.lost(reason);
    this.lanes.clear();
  }
}
