/**
 * Gathers a small fixed-size piece of a stream (a frame head, a run table, a message) from socket
 * chunks that may split it anywhere. The buffer is kept and reused, growing only when a larger piece
 * is expected, so steady-state parsing allocates nothing.
 */
export class Collector {
  private buf: Buffer;
  private want = 0;
  private have = 0;

  constructor(initialBytes: number) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Starts collecting `bytes` bytes. */
  expect(bytes: number): void {
    if (bytes > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(bytes, this.buf.length * 2));
    this.want = bytes;
    this.have = 0;
  }

  /** Takes what it still needs from `chunk` between `pos` and `end`; returns the new position in `chunk`. */
  take(chunk: Buffer, pos: number, end = chunk.length): number {
    const n = Math.min(this.want - this.have, end - pos);
    chunk.copy(this.buf, this.have, pos, pos + n);
    this.have += n;
    return pos + n;
  }

  get complete(): boolean {
    return this.have === this.want;
  }

  /** The collected bytes (valid until the next `expect`). */
  get bytes(): Buffer {
    return this.buf.subarray(0, this.want);
  }
}
