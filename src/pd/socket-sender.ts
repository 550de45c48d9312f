/**
 * Serialises sends on one ZeroMQ socket: zeromq.js allows one send in flight per socket, and a send
 * that cannot complete (peer gone, high-water mark) must not block the others forever. The queue is
 * bounded; past the bound, or past the send timeout, a message is dropped with a log line: every
 * PD wait has its own timeout, so a dropped notice becomes a clean failure, never a hang.
 */
import type { Logger } from '../log/logger.js';

interface Sendable {
  send(msg: Buffer | string | (Buffer | string)[]): Promise<void>;
}

export class SocketSender {
  private readonly queue: (Buffer | string)[][] = [];
  private busy = false;
  private closed = false;

  constructor(private readonly socket: Sendable, private readonly log: Logger, private readonly maxQueued = 1024) {}

  send(frames: (Buffer | string)[]): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxQueued) {
      this.log.warn({ queued: this.queue.length }, 'control socket send queue full: message dropped');
      return;
    }
    this.queue.push(frames);
    if (!this.busy) void this.drain();
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    this.busy = true;
    while (this.queue.length > 0 && !this.closed) {
      const frames = this.queue.shift()!;
      try {
        await this.socket.send(frames);
      } catch (err) {
        if (!this.closed) this.log.warn({ err }, 'control message not sent');
      }
    }
    this.busy = false;
  }
}
