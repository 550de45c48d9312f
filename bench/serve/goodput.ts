/**
 * Goodput: completed requests per second that met every service-level objective given. A request
 * meets `--slo-ttft-ms` when its time to first token is within it, and `--slo-itl-ms` when none of
 * its inter-token gaps exceeds it (a single stall is what a user notices, so the worst gap counts,
 * not the mean). Failed requests never count. Without any SLO there is no goodput (null).
 */
export interface Slo {
  ttftMs: number | null;
  itlMs: number | null;
}

/** What goodput needs to know about one completed request. */
export interface SloSubject {
  ttftMs: number;
  maxItlMs: number;
}

export interface Goodput {
  sloTtftMs: number | null;
  sloItlMs: number | null;
  /** Completed requests meeting every SLO. */
  requests: number;
  requestsPerSecond: number;
  /** Of the completed requests. */
  fraction: number;
}

export function meetsSlo(r: SloSubject, slo: Slo): boolean {
  return (slo.ttftMs === null || r.ttftMs <= slo.ttftMs) && (slo.itlMs === null || r.maxItlMs <= slo.itlMs);
}

export function goodput(completed: readonly SloSubject[], durationSeconds: number, slo: Slo): Goodput | null {
  if (slo.ttftMs === null && slo.itlMs === null) return null;
  const good = completed.filter((r) => meetsSlo(r, slo)).length;
  return {
    sloTtftMs: slo.ttftMs,
    sloItlMs: slo.itlMs,
    requests: good,
    requestsPerSecond: durationSeconds > 0 ? good / durationSeconds : 0,
    fraction: completed.length > 0 ? good / completed.length : 0,
  };
}
