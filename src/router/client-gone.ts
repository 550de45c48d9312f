/**
 * Whether a routed request's client went away, and the one thing to do when it does (cancel the
 * attempt in flight, or end a wait for a full node). Decisions: a plain flag and one listener, not
 * an AbortController: an AbortSignal and its EventTarget listeners cost every request a few
 * microseconds (bench/README.md, pd-bench router), and a request has one thing in flight at a time.
 */
export class ClientGone {
  gone = false;
  private listener: (() => void) | null = null;

  /** The client left: runs the listener, once. */
  readonly leave = (): void => {
    if (this.gone) return;
    this.gone = true;
    const listener = this.listener;
    this.listener = null;
    listener?.();
  };

  /** What to run if the client leaves from now on (replacing any earlier one); null: nothing. */
  onLeave(listener: (() => void) | null): void {
    this.listener = listener;
  }

  /** Resolves after `ms`, or at once when the client leaves. */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.onLeave(() => {
        clearTimeout(timer);
        resolve();
      });
    }).then(() => this.onLeave(null));
  }
}
