/**
 * Stop-string matching over streamed text. Text that could still turn out to be the start of a stop
 * string is held back, so a stream never shows part of a stop string that the final text omits.
 */
export class StopStringMatcher {
  private text = '';
  private emitted = 0;
  private readonly longest: number;

  constructor(private readonly stops: readonly string[]) {
    this.longest = stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  /**
   * Adds newly decoded text. Returns the text now safe to show and, if a stop string completed,
   * which one (the output then ends right before it).
   */
  push(delta: string): { text: string; matched: string | null } {
    const from = Math.max(0, this.text.length - this.longest + 1);
    this.text += delta;
    if (this.longest === 0) return { text: this.take(this.text.length), matched: null };
    let hitAt = -1;
    let hit: string | null = null;
    for (const s of this.stops) {
      const i = this.text.indexOf(s, from);
      if (i >= 0 && (hitAt < 0 || i < hitAt)) {
        hitAt = i;
        hit = s;
      }
    }
    if (hit !== null) {
      this.text = this.text.slice(0, hitAt);
      return { text: this.take(hitAt), matched: hit };
    }
    return { text: this.take(this.text.length - this.heldBack()), matched: null };
  }

  /** Everything not yet shown (the request ended for another reason). */
  flush(): string {
    return this.take(this.text.length);
  }

  /** Length of the longest tail of the text that is a proper prefix of a stop string. */
  private heldBack(): number {
    const max = Math.min(this.longest - 1, this.text.length - this.emitted);
    for (let n = max; n > 0; n--) {
      const tail = this.text.slice(this.text.length - n);
      if (this.stops.some((s) => s.startsWith(tail))) return n;
    }
    return 0;
  }

  private take(end: number): string {
    const out = this.text.slice(this.emitted, end);
    this.emitted = Math.max(this.emitted, end);
    return out;
  }
}
