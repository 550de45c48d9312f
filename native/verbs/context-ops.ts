/**
 * The verbs that verbs.h implements as `static inline` functions, called the way the header does:
 * through function pointers the provider put in the device context.
 *
 * Decisions:
 * - `ibv_poll_cq`, `ibv_req_notify_cq`, `ibv_post_send`, `ibv_post_recv` are
 *   `x->context->ops.<verb>(...)` in the header. The four pointers are read once per context (a
 *   provider sets its ops when the context is created and never changes them) and turned into koffi
 *   functions with `koffi.decode(pointer, prototype)`, so a data-path call is one FFI call.
 * - `ibv_query_port` is `___ibv_query_port` in the header: when `context->abi_compat` marks an
 *   extended context, the `struct verbs_context` ends right where the `ibv_context` starts; if that
 *   provider's `sz` covers `query_port` and the slot is set, it calls
 *   `vctx->query_port(context, port, attr, sizeof(attr))`; otherwise the exported compatibility
 *   `ibv_query_port`, with the struct zeroed first. Both paths are kept, as in the header.
 * - Buffers (work requests, completions, out-pointers) are passed as `void *` over memory whose
 *   address the caller knows (scratch.ts), so the calls marshal nothing.
 * - The constructor makes one plain call into libibverbs (`ibv_wc_status_str`, pure) before any call
 *   through the ops table: with koffi 3.3.4, a function made with `koffi.decode` crashes the process
 *   (SIGSEGV inside koffi) when it is the first FFI call a thread makes; once a function bound with
 *   `lib.func` has run on the thread, decoded ones work. The thread that opened the device always
 *   has; a device's poller worker (cq-poll-handle.ts) would not (seen in the Soft-RoCE VM).
 */
import koffi, { type TypeObject } from 'koffi';
import { VERBS_ABI } from './constants.js';
import { verbs, type RawPortAttr } from './library.js';
import { IBV_CONTEXT, IBV_PORT_ATTR, offsetOf, VERBS_CONTEXT } from './types.js';

const POLL_CQ = koffi.proto('int pd_node_poll_cq(void *cq, int num_entries, void *wc)');
const REQ_NOTIFY_CQ = koffi.proto('int pd_node_req_notify_cq(void *cq, int solicited_only)');
const POST_SEND = koffi.proto('int pd_node_post_send(void *qp, void *wr, void *bad_wr)');
const POST_RECV = koffi.proto('int pd_node_post_recv(void *qp, void *wr, void *bad_wr)');
const QUERY_PORT = koffi.proto('int pd_node_query_port(void *context, uint8_t port_num, _Out_ ibv_port_attr *port_attr, size_t port_attr_len)');

/** How far before the `ibv_context` the declared part of `verbs_context` starts. */
const VCTX_BACK = offsetOf(VERBS_CONTEXT, 'context');
const VCTX_SZ = offsetOf(VERBS_CONTEXT, 'sz');
const VCTX_QUERY_PORT = offsetOf(VERBS_CONTEXT, 'query_port');
const ABI_COMPAT = offsetOf(IBV_CONTEXT, 'abi_compat');

type QueryPort = (port: number, attr: Partial<RawPortAttr>) => number;

function pointerAt(address: bigint, offset: number): bigint | null {
  return koffi.decode(address, offset, 'void *') as bigint | null;
}

/** The function in ops slot `slot` of the context at `context`, as a koffi function of `proto`. */
function opsFunction<F>(context: bigint, slot: string, proto: TypeObject): F {
  const fn = pointerAt(context, offsetOf(IBV_CONTEXT, `ops.${slot}`));
  if (fn === null) throw new Error(`libibverbs: this device's provider leaves context->ops.${slot} empty`);
  return koffi.decode(fn, proto) as F;
}

/** The provider's `verbs_context->query_port` when the header would use it, else null. */
function extendedQueryPort(context: bigint): QueryPort | null {
  if (pointerAt(context, ABI_COMPAT) !== VERBS_ABI.__VERBS_ABI_IS_EXTENDED) return null;
  const vctx = context - BigInt(VCTX_BACK);
  const sz = koffi.decode(vctx, VCTX_SZ, 'size_t') as number | bigint;
  if (BigInt(sz) < BigInt(koffi.sizeof(VERBS_CONTEXT) - VCTX_QUERY_PORT)) return null;
  const fn = pointerAt(vctx, VCTX_QUERY_PORT);
  if (fn === null) return null;
  const call = koffi.decode(fn, QUERY_PORT) as (ctx: bigint, port: number, attr: Partial<RawPortAttr>, len: number) => number;
  const size = koffi.sizeof(IBV_PORT_ATTR);
  return (port, attr) => call(context, port, attr, size);
}

/** The inline verbs of one device context; every method returns what the C verb returns. */
export class ContextOps {
  /** `cq->context->ops.poll_cq(cq, n, wc)`: completions found (>= 0), or < 0 on error. */
  readonly pollCq: (cq: bigint, numEntries: number, wc: Uint8Array) => number;
  /** `cq->context->ops.req_notify_cq(cq, solicited_only)`: 0 or an errno value. */
  readonly reqNotifyCq: (cq: bigint, solicitedOnly: number) => number;
  /** `qp->context->ops.post_send(qp, wr, &bad_wr)`: 0 or an errno value; `bad` gets the refused WR. */
  readonly postSend: (qp: bigint, wr: bigint, bad: BigUint64Array) => number;
  /** `qp->context->ops.post_recv(qp, wr, &bad_wr)`: 0 or an errno value; `bad` gets the refused WR. */
  readonly postRecv: (qp: bigint, wr: bigint, bad: BigUint64Array) => number;
  private readonly queryPortFn: QueryPort;

  constructor(context: bigint) {
    verbs().ibv_wc_status_str(0);
    this.pollCq = opsFunction(context, 'poll_cq', POLL_CQ);
    this.reqNotifyCq = opsFunction(context, 'req_notify_cq', REQ_NOTIFY_CQ);
    this.postSend = opsFunction(context, 'post_send', POST_SEND);
    this.postRecv = opsFunction(context, 'post_recv', POST_RECV);
    this.queryPortFn = extendedQueryPort(context) ?? ((port, attr) => verbs().ibv_query_port(context, port, attr));
  }

  /** `ibv_query_port(context, port, &attr)`: 0 or an errno value; fills `attr`. */
  queryPort(port: number, attr: Partial<RawPortAttr>): number {
    return this.queryPortFn(port, attr);
  }
}
