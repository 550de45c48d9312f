/**
 * Refusals of the tcp KV port, reported once per peer: a misbehaving (or hostile) peer that retries
 * in a loop must not flood the log, nor grow memory without bound. After MAX_PEERS distinct peers one
 * line says that further peers go unreported.
 */

/** Distinct peers remembered; beyond this refusals are not reported (one line says so). */
const MAX_PEERS = 1024;

export class RefusalLog {
  private readonly seen = new Set<string>();
  private full = false;

  constructor(private readonly report: (reason: string) => void) {}

  /** Reports `reason` if `peer` has not been reported yet. */
  refused(peer: string, reason: string): void {
    if (this.seen.has(peer)) return;
    if (this.seen.size >= MAX_PEERS) {
      if (!this.full) this.report(`more than ${MAX_PEERS} peers refused; further refusals are not logged`);
      this.full = true;
      return;
    }
    this.seen.add(peer);
    this.report(`${reason} (further refusals of this peer are not logged)`);
  }
}
