/**
 * The enum values of `<infiniband/verbs.h>` the bindings use, one object per C enum.
 *
 * Decisions:
 * - Keys are the C names exactly (`QP_STATE.IBV_QPS_RTS`), so every value can be grepped in the header
 *   and the ABI test (test/verbs/abi.test.ts) compares each one with what the C compiler sees: every
 *   exported object here must match the probe's `const` lines one for one.
 * - Only the members the bindings use, except where a value is turned back into its C name for
 *   messages (`nameOf`: completion statuses, QP states), which list the whole enum.
 */

/** `context->abi_compat` of a context that is the tail of a `struct verbs_context` ((void *)UINTPTR_MAX). */
export const VERBS_ABI = {
  __VERBS_ABI_IS_EXTENDED: 0xffff_ffff_ffff_ffffn,
} as const;

export const PORT_STATE = {
  IBV_PORT_NOP: 0,
  IBV_PORT_DOWN: 1,
  IBV_PORT_INIT: 2,
  IBV_PORT_ARMED: 3,
  IBV_PORT_ACTIVE: 4,
  IBV_PORT_ACTIVE_DEFER: 5,
} as const;

/** The header's anonymous enum for `ibv_port_attr.link_layer`. */
export const LINK_LAYER = {
  IBV_LINK_LAYER_UNSPECIFIED: 0,
  IBV_LINK_LAYER_INFINIBAND: 1,
  IBV_LINK_LAYER_ETHERNET: 2,
} as const;

export const MTU = {
  IBV_MTU_256: 1,
  IBV_MTU_512: 2,
  IBV_MTU_1024: 3,
  IBV_MTU_2048: 4,
  IBV_MTU_4096: 5,
} as const;

export const GID_TYPE = {
  IBV_GID_TYPE_IB: 0,
  IBV_GID_TYPE_ROCE_V1: 1,
  IBV_GID_TYPE_ROCE_V2: 2,
} as const;

export const ACCESS = {
  IBV_ACCESS_LOCAL_WRITE: 1,
  IBV_ACCESS_REMOTE_WRITE: 2,
} as const;

export const QP_TYPE = {
  IBV_QPT_RC: 2,
} as const;

export const QP_STATE = {
  IBV_QPS_RESET: 0,
  IBV_QPS_INIT: 1,
  IBV_QPS_RTR: 2,
  IBV_QPS_RTS: 3,
  IBV_QPS_SQD: 4,
  IBV_QPS_SQE: 5,
  IBV_QPS_ERR: 6,
} as const;

export const QP_ATTR_MASK = {
  IBV_QP_STATE: 1 << 0,
  IBV_QP_ACCESS_FLAGS: 1 << 3,
  IBV_QP_PKEY_INDEX: 1 << 4,
  IBV_QP_PORT: 1 << 5,
  IBV_QP_AV: 1 << 7,
  IBV_QP_PATH_MTU: 1 << 8,
  IBV_QP_TIMEOUT: 1 << 9,
  IBV_QP_RETRY_CNT: 1 << 10,
  IBV_QP_RNR_RETRY: 1 << 11,
  IBV_QP_RQ_PSN: 1 << 12,
  IBV_QP_MAX_QP_RD_ATOMIC: 1 << 13,
  IBV_QP_MIN_RNR_TIMER: 1 << 15,
  IBV_QP_SQ_PSN: 1 << 16,
  IBV_QP_MAX_DEST_RD_ATOMIC: 1 << 17,
  IBV_QP_DEST_QPN: 1 << 20,
} as const;

export const WR_OPCODE = {
  IBV_WR_RDMA_WRITE: 0,
  IBV_WR_RDMA_WRITE_WITH_IMM: 1,
} as const;

export const SEND_FLAGS = {
  IBV_SEND_SIGNALED: 1 << 1,
} as const;

export const WC_STATUS = {
  IBV_WC_SUCCESS: 0,
  IBV_WC_LOC_LEN_ERR: 1,
  IBV_WC_LOC_QP_OP_ERR: 2,
  IBV_WC_LOC_EEC_OP_ERR: 3,
  IBV_WC_LOC_PROT_ERR: 4,
  IBV_WC_WR_FLUSH_ERR: 5,
  IBV_WC_MW_BIND_ERR: 6,
  IBV_WC_BAD_RESP_ERR: 7,
  IBV_WC_LOC_ACCESS_ERR: 8,
  IBV_WC_REM_INV_REQ_ERR: 9,
  IBV_WC_REM_ACCESS_ERR: 10,
  IBV_WC_REM_OP_ERR: 11,
  IBV_WC_RETRY_EXC_ERR: 12,
  IBV_WC_RNR_RETRY_EXC_ERR: 13,
  IBV_WC_LOC_RDD_VIOL_ERR: 14,
  IBV_WC_REM_INV_RD_REQ_ERR: 15,
  IBV_WC_REM_ABORT_ERR: 16,
  IBV_WC_INV_EECN_ERR: 17,
  IBV_WC_INV_EEC_STATE_ERR: 18,
  IBV_WC_FATAL_ERR: 19,
  IBV_WC_RESP_TIMEOUT_ERR: 20,
  IBV_WC_GENERAL_ERR: 21,
  IBV_WC_TM_ERR: 22,
  IBV_WC_TM_RNDV_INCOMPLETE: 23,
} as const;

export const WC_OPCODE = {
  IBV_WC_SEND: 0,
  IBV_WC_RDMA_WRITE: 1,
  IBV_WC_RDMA_READ: 2,
  IBV_WC_RECV: 1 << 7,
  IBV_WC_RECV_RDMA_WITH_IMM: (1 << 7) + 1,
} as const;

export const WC_FLAGS = {
  IBV_WC_WITH_IMM: 1 << 1,
} as const;

/** The C name of `value` in one of the enums above (`unknown (N)` for a value not listed here). */
export function nameOf(values: Readonly<Record<string, number>>, value: number): string {
  for (const [name, v] of Object.entries(values)) if (v === value) return name;
  return `unknown (${value})`;
}
