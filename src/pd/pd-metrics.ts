import { Counter, Histogram, type Registry } from 'prom-client';

/** Finer around 5-25 ms, where an exposed transfer target sits (pd-bench serve reads its p50 from these). */
const MS_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10, 15, 20, 25, 50, 100, 250, 500, 1000, 2500];

/**
 * Transfer metrics of a PD node (prefill: what it sent; decode: what it received), and on decode
 * nodes whose engine checks arrived KV (synthetic) the outcome of those checks.
 */
export class PdMetrics {
  private readonly bytes: Counter;
  private readonly runs: Counter;
  private readonly rooms: Counter;
  private readonly writeSeconds: Counter;
  private readonly transfer: Histogram;
  private readonly exposed: Histogram;
  private readonly verifiedBytes: Counter;
  private readonly verifyFailures: Counter;
  private readonly verifySeconds: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.bytes = new Counter({ name: 'pd_node_kv_transfer_bytes_total', help: 'KV bytes moved between prefill and decode.', registers });
    this.runs = new Counter({ name: 'pd_node_kv_transfer_runs_total', help: 'Coalesced page runs written (one write each).', registers });
    this.rooms = new Counter({ name: 'pd_node_kv_transfer_rooms_total', help: 'Rooms whose KV was transferred.', registers });
    this.writeSeconds = new Counter({ name: 'pd_node_kv_write_seconds_total', help: 'Time the KV writes took, summed (bytes / this = transfer bandwidth).', registers });
    this.transfer = new Histogram({ name: 'pd_node_kv_transfer_ms', help: 'Per room: first write issued to last byte landed (ms).', buckets: MS_BUCKETS, registers });
    this.exposed = new Histogram({ name: 'pd_node_kv_transfer_exposed_ms', help: 'Per room: end of prefill to last byte landed, the transfer time decode waits for (ms).', buckets: MS_BUCKETS, registers });
    this.verifiedBytes = new Counter({ name: 'pd_node_kv_verified_bytes_total', help: 'Decode, synthetic engine: arrived KV bytes that passed verification.', registers });
    this.verifyFailures = new Counter({ name: 'pd_node_kv_verify_failures_total', help: 'Decode, synthetic engine: requests failed because their arrived KV had a wrong byte.', registers });
    this.verifySeconds = new Counter({ name: 'pd_node_kv_verify_seconds_total', help: 'Decode, synthetic engine: time spent verifying arrived KV (it delays the start of decoding).', registers });
  }

  observe(t: { bytes: number; runs: number; transferMs: number; writeMs: number; exposedMs: number }): void {
    this.writeSeconds.inc(t.writeMs / 1000);
    this.bytes.inc(t.bytes);
    this.runs.inc(t.runs);
    this.rooms.inc();
    this.transfer.observe(t.transferMs);
    this.exposed.observe(t.exposedMs);
  }

  verified(v: { bytes: number; ms: number; ok: boolean }): void {
    this.verifySeconds.inc(v.ms / 1000);
    if (v.ok) this.verifiedBytes.inc(v.bytes);
    else this.verifyFailures.inc();
  }
}
