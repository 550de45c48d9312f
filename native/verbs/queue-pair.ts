/**
 * A reliable-connected queue pair: `ibv_create_qp`, the RESET -> INIT -> RTR -> RTS transitions and
 * the move to ERR with `ibv_modify_qp`, the inline `ibv_post_send` / `ibv_post_recv`, and `ibv_destroy_qp`.
 *
 * Decisions:
 * - RC only, one scatter/gather entry per request, `sq_sig_all = 0` (the sender chooses which writes
 *   complete with a completion: selective signaling).
 * - The address vector always carries a GRH (`is_global = 1`) with the peer's GID and our
 *   `sgid_index`: RoCE needs it, and on InfiniBand it is valid inside a subnet too; `dlid` is the
 *   peer's LID (0 on RoCE). The attribute masks are the ones ibv_modify_qp(3) requires for RC.
 * - Retry defaults follow common practice for a data-center fabric: `timeout` 14 (4.096 us * 2^14,
 *   about 67 ms per try), 7 retries, RNR retry 7 (infinite), minimum RNR timer 12 (0.64 ms); one
 *   outstanding RDMA READ/atomic each way (the KV transfer only writes). Callers may override them.
 * - A refused post throws a PostError that says how many requests before it were posted (they will
 *   complete; the rest were not posted), so the caller can account for every request.
 */
import koffi from 'koffi';
import type { CompletionQueue } from './completion-queue.js';
import { ACCESS, nameOf, QP_ATTR_MASK, QP_STATE, QP_TYPE } from './constants.js';
import type { Context, Resource } from './context.js';
import { PostError, VerbsError } from './errors.js';
import { type RawQpAttr, type RawQpInitAttr, verbs } from './library.js';
import type { ProtectionDomain } from './protection-domain.js';
import { Scratch } from './scratch.js';
import { IBV_QP, IBV_RECV_WR, IBV_SEND_WR } from './types.js';
import { encodeReceives, encodeWrites, refusedIndex, type RdmaWrite } from './work-requests.js';

export interface QueuePairOptions {
  sendCq: CompletionQueue;
  recvCq: CompletionQueue;
  maxSendWr: number;
  maxRecvWr: number;
  /** Bytes a write may carry inline (0: none). */
  maxInlineData?: number;
}

/** What the provider granted (at least what was asked). */
export interface QueuePairCapabilities {
  maxSendWr: number;
  maxRecvWr: number;
  maxInlineData: number;
}

/** This side of the connection. */
export interface QpLocalPath {
  /** Port number (from 1). */
  port: number;
  /** Index of our GID in the port's table (the one the peer was given). */
  sgidIndex: number;
  /** Path MTU, an MTU enum value (the smaller of both ports' active MTUs). */
  mtu: number;
  /** Our first packet sequence number (24 bits). */
  psn: number;
  hopLimit?: number;
  trafficClass?: number;
  serviceLevel?: number;
}

/** The peer's side, as it advertised it. */
export interface QpRemoteEndpoint {
  qpNum: number;
  /** The peer's first packet sequence number (24 bits). */
  psn: number;
  /** The peer's GID (16 bytes). */
  gid: Uint8Array;
  /** The peer's LID (0 on RoCE). */
  lid: number;
}

export interface QpRetryOptions {
  timeout: number;
  retryCnt: number;
  rnrRetry: number;
  minRnrTimer: number;
}

export const DEFAULT_QP_RETRY: Readonly<QpRetryOptions> = { timeout: 14, retryCnt: 7, rnrRetry: 7, minRnrTimer: 12 };
const DEFAULT_HOP_LIMIT = 64;
const PSN_LIMIT = 1 << 24;

export class QueuePair implements Resource {
  readonly qpNum: number;
  private qpState: number = QP_STATE.IBV_QPS_RESET;
  private readonly sendScratch = new Scratch(16 * koffi.sizeof(IBV_SEND_WR));
  private readonly recvScratch = new Scratch(16 * koffi.sizeof(IBV_RECV_WR));
  /** The `bad_wr` out-pointer of the posts. */
  private readonly refused = new BigUint64Array(1);
  private destroyed = false;

  /** Wraps a `struct ibv_qp *` made on `pd`. */
  constructor(readonly pd: ProtectionDomain, readonly handle: bigint, readonly capabilities: QueuePairCapabilities) {
    this.qpNum = (koffi.decode(handle, IBV_QP) as { qp_num: number }).qp_num;
    pd.context.adopt(this);
  }

  static create(pd: ProtectionDomain, options: QueuePairOptions): QueuePair {
    const attr: RawQpInitAttr = {
      send_cq: options.sendCq.handle,
      recv_cq: options.recvCq.handle,
      cap: { max_send_wr: options.maxSendWr, max_recv_wr: options.maxRecvWr, max_send_sge: 1, max_recv_sge: 1, max_inline_data: options.maxInlineData ?? 0 },
      qp_type: QP_TYPE.IBV_QPT_RC,
      sq_sig_all: 0,
    };
    const qp = verbs().ibv_create_qp(pd.handle, attr);
    if (qp === null) throw new VerbsError(`ibv_create_qp(${pd.context.deviceName}, RC, ${options.maxSendWr} send / ${options.maxRecvWr} recv WRs)`, koffi.errno());
    return new QueuePair(pd, qp, { maxSendWr: attr.cap.max_send_wr, maxRecvWr: attr.cap.max_recv_wr, maxInlineData: attr.cap.max_inline_data });
  }

  private get context(): Context {
    return this.pd.context;
  }

  /** The QP_STATE this object last moved the QP to. */
  get state(): number {
    return this.qpState;
  }

  /** RESET -> INIT -> RTR -> RTS: afterwards the QP sends to and receives from `remote`. */
  connect(local: QpLocalPath, remote: QpRemoteEndpoint, retry: QpRetryOptions = DEFAULT_QP_RETRY): void {
    if (remote.gid.length !== 16) throw new RangeError(`a GID has 16 bytes (got ${remote.gid.length})`);
    for (const [what, psn] of [['local', local.psn], ['remote', remote.psn]] as const) {
      if (!Number.isInteger(psn) || psn < 0 || psn >= PSN_LIMIT) throw new RangeError(`the ${what} PSN must be a 24-bit integer (got ${psn})`);
    }
    const M = QP_ATTR_MASK;
    this.modify(
      { qp_state: QP_STATE.IBV_QPS_INIT, pkey_index: 0, port_num: local.port, qp_access_flags: ACCESS.IBV_ACCESS_LOCAL_WRITE | ACCESS.IBV_ACCESS_REMOTE_WRITE },
      M.IBV_QP_STATE | M.IBV_QP_PKEY_INDEX | M.IBV_QP_PORT | M.IBV_QP_ACCESS_FLAGS,
    );
    this.modify(
      {
        qp_state: QP_STATE.IBV_QPS_RTR,
        path_mtu: local.mtu,
        dest_qp_num: remote.qpNum,
        rq_psn: remote.psn,
        max_dest_rd_atomic: 1,
        min_rnr_timer: retry.minRnrTimer,
        ah_attr: {
          is_global: 1,
          grh: { dgid: { raw: remote.gid }, sgid_index: local.sgidIndex, hop_limit: local.hopLimit ?? DEFAULT_HOP_LIMIT, traffic_class: local.trafficClass ?? 0 },
          dlid: remote.lid,
          sl: local.serviceLevel ?? 0,
          port_num: local.port,
        },
      },
      M.IBV_QP_STATE | M.IBV_QP_AV | M.IBV_QP_PATH_MTU | M.IBV_QP_DEST_QPN | M.IBV_QP_RQ_PSN | M.IBV_QP_MAX_DEST_RD_ATOMIC | M.IBV_QP_MIN_RNR_TIMER,
    );
    this.modify(
      { qp_state: QP_STATE.IBV_QPS_RTS, sq_psn: local.psn, timeout: retry.timeout, retry_cnt: retry.retryCnt, rnr_retry: retry.rnrRetry, max_rd_atomic: 1 },
      M.IBV_QP_STATE | M.IBV_QP_SQ_PSN | M.IBV_QP_TIMEOUT | M.IBV_QP_RETRY_CNT | M.IBV_QP_RNR_RETRY | M.IBV_QP_MAX_QP_RD_ATOMIC,
    );
  }

  /**
   * Any state -> ERR: the QP executes no more incoming requests (a peer's RDMA WRITEs stop landing)
   * and flushes its own outstanding ones with IBV_WC_WR_FLUSH_ERR.
   */
  toError(): void {
    this.modify({ qp_state: QP_STATE.IBV_QPS_ERR }, QP_ATTR_MASK.IBV_QP_STATE);
  }

  private modify(attr: RawQpAttr, mask: number): void {
    const rc = verbs().ibv_modify_qp(this.handle, attr, mask);
    const step = `${nameOf(QP_STATE, this.qpState)} -> ${nameOf(QP_STATE, attr.qp_state)}`;
    if (rc !== 0) throw new VerbsError(`ibv_modify_qp(${this.context.deviceName}, QP ${this.qpNum}, ${step})`, rc);
    this.qpState = attr.qp_state;
  }

  /** `ibv_post_send` of RDMA WRITEs (WITH IMM where `imm` is set), in order, as one chain. */
  postWrites(writes: readonly RdmaWrite[]): void {
    if (writes.length === 0) return;
    const first = encodeWrites(this.sendScratch, writes);
    this.refused[0] = 0n;
    const rc = this.context.ops.postSend(this.handle, first, this.refused);
    if (rc !== 0) throw this.postError('ibv_post_send', rc, first, 'send', writes.length);
  }

  /** `ibv_post_recv` of buffer-less receives, one per expected WRITE WITH IMM. */
  postReceives(wrIds: readonly number[]): void {
    if (wrIds.length === 0) return;
    const first = encodeReceives(this.recvScratch, wrIds);
    this.refused[0] = 0n;
    const rc = this.context.ops.postRecv(this.handle, first, this.refused);
    if (rc !== 0) throw this.postError('ibv_post_recv', rc, first, 'recv', wrIds.length);
  }

  private postError(call: string, rc: number, first: bigint, kind: 'send' | 'recv', total: number): PostError {
    const posted = this.refused[0] === 0n ? 0 : refusedIndex(first, this.refused[0], kind);
    return new PostError(`${call}(${this.context.deviceName}, QP ${this.qpNum})`, rc, posted, total);
  }

  /** `ibv_destroy_qp`; idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    const rc = verbs().ibv_destroy_qp(this.handle);
    if (rc !== 0) throw new VerbsError(`ibv_destroy_qp(${this.context.deviceName}, QP ${this.qpNum})`, rc);
    this.destroyed = true;
    this.context.release(this);
  }
}
