/**
 * Progress of a run on stderr (stdout keeps the results). On a terminal, one bar redrawn in place
 * (at most 10 times a second); otherwise (CI logs, pipes) one line every 5 s and at the end, so
 * logs stay short.
 */
import type { Progress } from './load-runner.js';

const BAR_WIDTH = 30;
const TTY_REDRAW_MS = 100;
const LINE_EVERY_MS = 5000;

export class ProgressBar {
  private readonly startedAt = performance.now();
  private lastDrawAt = -Infinity;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = out.isTTY === true;
  }

  update(p: Progress): void {
    const now = performance.now();
    const last = p.done === p.total;
    if (!last && now - this.lastDrawAt < (this.tty ? TTY_REDRAW_MS : LINE_EVERY_MS)) return;
    this.lastDrawAt = now;
    const filled = p.total === 0 ? BAR_WIDTH : Math.round((p.done / p.total) * BAR_WIDTH);
    const text = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${p.done}/${p.total} done, ${p.failed} failed, ${((now - this.startedAt) / 1000).toFixed(1)} s`;
    if (this.tty) this.out.write(`\r${text}${last ? '\n' : ''}`);
    else this.out.write(`${text}\n`);
  }
}
