/**
 * The C structs of `<infiniband/verbs.h>` (rdma-core) that the bindings read or fill, as koffi types.
 *
 * Decisions:
 * - Written from the installed header, field for field, in header order and with the header's names,
 *   so `test/verbs/abi.test.ts` can compare every size, alignment and offset with what the C compiler
 *   computes (`test/verbs/abi-probe.c`) and fail on any difference.
 * - Pointers to other verbs objects are `void *` (koffi 3 gives BigInt addresses); enums are `int`.
 * - A member that is an anonymous union in C is declared under the name of its first member with that
 *   member's type when all members have one size (`imm_data`), so the C expression
 *   `offsetof(struct ibv_wc, imm_data)` names the same bytes. A union member the bindings never touch is
 *   declared as a `uint64_t` array of its size (`atomic`, `bind_mw`): it only has to occupy the right
 *   bytes with the right alignment, which the ABI test checks.
 * - `pthread_mutex_t` / `pthread_cond_t` sit inside `ibv_context`, `ibv_cq` and `ibv_qp`; they are
 *   opaque the same way, with glibc's sizes for the two supported 64-bit Linux targets (x64 and
 *   arm64; library.ts refuses others).
 * - `verbs_context` grows towards lower addresses as rdma-core adds verbs (its last member is the
 *   `ibv_context` applications see), so only its part from `query_port` to the end is declared: offsets
 *   measured back from `context` stay valid whatever newer header built the library.
 */
import koffi, { type TypeObject } from 'koffi';

const PTR = 'void *';
/** An 8-byte-aligned placeholder of `bytes` bytes for a member the bindings never touch. */
const opaque = (bytes: number): TypeObject => koffi.array('uint64_t', bytes / 8);
const PTHREAD_MUTEX_T = opaque(process.arch === 'arm64' ? 48 : 40);
const PTHREAD_COND_T = opaque(48);
/** A table of function pointers, in slot order. */
const slots = (names: readonly string[]): Record<string, string> => Object.fromEntries(names.map((n) => [n, PTR]));

export const IBV_GID = koffi.union('ibv_gid', {
  raw: koffi.array('uint8_t', 16),
  global: koffi.struct({ subnet_prefix: 'uint64_t', interface_id: 'uint64_t' }),
});

export const IBV_GID_ENTRY = koffi.struct('ibv_gid_entry', {
  gid: IBV_GID,
  gid_index: 'uint32_t',
  port_num: 'uint32_t',
  gid_type: 'uint32_t',
  ndev_ifindex: 'uint32_t',
});

export const IBV_DEVICE_ATTR = koffi.struct('ibv_device_attr', {
  fw_ver: koffi.array('char', 64),
  node_guid: 'uint64_t',
  sys_image_guid: 'uint64_t',
  max_mr_size: 'uint64_t',
  page_size_cap: 'uint64_t',
  vendor_id: 'uint32_t',
  vendor_part_id: 'uint32_t',
  hw_ver: 'uint32_t',
  max_qp: 'int',
  max_qp_wr: 'int',
  device_cap_flags: 'unsigned int',
  max_sge: 'int',
  max_sge_rd: 'int',
  max_cq: 'int',
  max_cqe: 'int',
  max_mr: 'int',
  max_pd: 'int',
  max_qp_rd_atom: 'int',
  max_ee_rd_atom: 'int',
  max_res_rd_atom: 'int',
  max_qp_init_rd_atom: 'int',
  max_ee_init_rd_atom: 'int',
  atomic_cap: 'int',
  max_ee: 'int',
  max_rdd: 'int',
  max_mw: 'int',
  max_raw_ipv6_qp: 'int',
  max_raw_ethy_qp: 'int',
  max_mcast_grp: 'int',
  max_mcast_qp_attach: 'int',
  max_total_mcast_qp_attach: 'int',
  max_ah: 'int',
  max_fmr: 'int',
  max_map_per_fmr: 'int',
  max_srq: 'int',
  max_srq_wr: 'int',
  max_srq_sge: 'int',
  max_pkeys: 'uint16_t',
  local_ca_ack_delay: 'uint8_t',
  phys_port_cnt: 'uint8_t',
});

export const IBV_PORT_ATTR = koffi.struct('ibv_port_attr', {
  state: 'int',
  max_mtu: 'int',
  active_mtu: 'int',
  gid_tbl_len: 'int',
  port_cap_flags: 'uint32_t',
  max_msg_sz: 'uint32_t',
  bad_pkey_cntr: 'uint32_t',
  qkey_viol_cntr: 'uint32_t',
  pkey_tbl_len: 'uint16_t',
  lid: 'uint16_t',
  sm_lid: 'uint16_t',
  lmc: 'uint8_t',
  max_vl_num: 'uint8_t',
  sm_sl: 'uint8_t',
  subnet_timeout: 'uint8_t',
  init_type_reply: 'uint8_t',
  active_width: 'uint8_t',
  active_speed: 'uint8_t',
  phys_state: 'uint8_t',
  link_layer: 'uint8_t',
  flags: 'uint8_t',
  port_cap_flags2: 'uint16_t',
});

/** `ibv_context.ops`: the provider's entry points; the data-path verbs are static inline calls through it. */
export const IBV_CONTEXT_OPS = koffi.struct('ibv_context_ops', slots([
  '_compat_query_device', '_compat_query_port', '_compat_alloc_pd', '_compat_dealloc_pd',
  '_compat_reg_mr', '_compat_rereg_mr', '_compat_dereg_mr', 'alloc_mw', 'bind_mw', 'dealloc_mw',
  '_compat_create_cq', 'poll_cq', 'req_notify_cq', '_compat_cq_event', '_compat_resize_cq',
  '_compat_destroy_cq', '_compat_create_srq', '_compat_modify_srq', '_compat_query_srq',
  '_compat_destroy_srq', 'post_srq_recv', '_compat_create_qp', '_compat_query_qp', '_compat_modify_qp',
  '_compat_destroy_qp', 'post_send', 'post_recv', '_compat_create_ah', '_compat_destroy_ah',
  '_compat_attach_mcast', '_compat_detach_mcast', '_compat_async_event',
]));

export const IBV_CONTEXT = koffi.struct('ibv_context', {
  device: PTR,
  ops: IBV_CONTEXT_OPS,
  cmd_fd: 'int',
  async_fd: 'int',
  num_comp_vectors: 'int',
  mutex: PTHREAD_MUTEX_T,
  abi_compat: PTR,
});

/** `struct verbs_context` from `query_port` on (see the header comment). */
export const VERBS_CONTEXT = koffi.struct('verbs_context', {
  ...slots([
    'query_port', 'advise_mr', 'alloc_null_mr', 'read_counters', 'attach_counters_point_flow',
    'create_counters', 'destroy_counters', 'reg_dm_mr', 'alloc_dm', 'free_dm', 'modify_flow_action_esp',
    'destroy_flow_action', 'create_flow_action_esp', 'modify_qp_rate_limit', 'alloc_parent_domain',
    'dealloc_td', 'alloc_td', 'modify_cq', 'post_srq_ops', 'destroy_rwq_ind_table', 'create_rwq_ind_table',
    'destroy_wq', 'modify_wq', 'create_wq', 'query_rt_values', 'create_cq_ex', 'priv', 'query_device_ex',
    'ibv_destroy_flow', 'ABI_placeholder2', 'ibv_create_flow', 'ABI_placeholder1', 'open_qp',
    'create_qp_ex', 'get_srq_num', 'create_srq_ex', 'open_xrcd', 'close_xrcd',
  ]),
  _ABI_placeholder3: 'uint64_t',
  sz: 'size_t',
  context: IBV_CONTEXT,
});

export const IBV_MR = koffi.struct('ibv_mr', {
  context: PTR,
  pd: PTR,
  addr: PTR,
  length: 'size_t',
  handle: 'uint32_t',
  lkey: 'uint32_t',
  rkey: 'uint32_t',
});

export const IBV_COMP_CHANNEL = koffi.struct('ibv_comp_channel', {
  context: PTR,
  fd: 'int',
  refcnt: 'int',
});

export const IBV_CQ = koffi.struct('ibv_cq', {
  context: PTR,
  channel: PTR,
  cq_context: PTR,
  handle: 'uint32_t',
  cqe: 'int',
  mutex: PTHREAD_MUTEX_T,
  cond: PTHREAD_COND_T,
  comp_events_completed: 'uint32_t',
  async_events_completed: 'uint32_t',
});

export const IBV_QP_CAP = koffi.struct('ibv_qp_cap', {
  max_send_wr: 'uint32_t',
  max_recv_wr: 'uint32_t',
  max_send_sge: 'uint32_t',
  max_recv_sge: 'uint32_t',
  max_inline_data: 'uint32_t',
});

export const IBV_QP_INIT_ATTR = koffi.struct('ibv_qp_init_attr', {
  qp_context: PTR,
  send_cq: PTR,
  recv_cq: PTR,
  srq: PTR,
  cap: IBV_QP_CAP,
  qp_type: 'int',
  sq_sig_all: 'int',
});

export const IBV_QP = koffi.struct('ibv_qp', {
  context: PTR,
  qp_context: PTR,
  pd: PTR,
  send_cq: PTR,
  recv_cq: PTR,
  srq: PTR,
  handle: 'uint32_t',
  qp_num: 'uint32_t',
  state: 'int',
  qp_type: 'int',
  mutex: PTHREAD_MUTEX_T,
  cond: PTHREAD_COND_T,
  events_completed: 'uint32_t',
});

export const IBV_GLOBAL_ROUTE = koffi.struct('ibv_global_route', {
  dgid: IBV_GID,
  flow_label: 'uint32_t',
  sgid_index: 'uint8_t',
  hop_limit: 'uint8_t',
  traffic_class: 'uint8_t',
});

export const IBV_AH_ATTR = koffi.struct('ibv_ah_attr', {
  grh: IBV_GLOBAL_ROUTE,
  dlid: 'uint16_t',
  sl: 'uint8_t',
  src_path_bits: 'uint8_t',
  static_rate: 'uint8_t',
  is_global: 'uint8_t',
  port_num: 'uint8_t',
});

export const IBV_QP_ATTR = koffi.struct('ibv_qp_attr', {
  qp_state: 'int',
  cur_qp_state: 'int',
  path_mtu: 'int',
  path_mig_state: 'int',
  qkey: 'uint32_t',
  rq_psn: 'uint32_t',
  sq_psn: 'uint32_t',
  dest_qp_num: 'uint32_t',
  qp_access_flags: 'unsigned int',
  cap: IBV_QP_CAP,
  ah_attr: IBV_AH_ATTR,
  alt_ah_attr: IBV_AH_ATTR,
  pkey_index: 'uint16_t',
  alt_pkey_index: 'uint16_t',
  en_sqd_async_notify: 'uint8_t',
  sq_draining: 'uint8_t',
  max_rd_atomic: 'uint8_t',
  max_dest_rd_atomic: 'uint8_t',
  min_rnr_timer: 'uint8_t',
  port_num: 'uint8_t',
  timeout: 'uint8_t',
  retry_cnt: 'uint8_t',
  rnr_retry: 'uint8_t',
  alt_port_num: 'uint8_t',
  alt_timeout: 'uint8_t',
  rate_limit: 'uint32_t',
});

export const IBV_SGE = koffi.struct('ibv_sge', {
  addr: 'uint64_t',
  length: 'uint32_t',
  lkey: 'uint32_t',
});

export const IBV_SEND_WR = koffi.struct('ibv_send_wr', {
  wr_id: 'uint64_t',
  next: PTR,
  sg_list: PTR,
  num_sge: 'int',
  opcode: 'int',
  send_flags: 'unsigned int',
  imm_data: 'uint32_t',
  wr: koffi.union({
    rdma: koffi.struct({ remote_addr: 'uint64_t', rkey: 'uint32_t' }),
    atomic: opaque(32),
  }),
  qp_type: koffi.union({ xrc: koffi.struct({ remote_srqn: 'uint32_t' }) }),
  bind_mw: opaque(48),
});

export const IBV_RECV_WR = koffi.struct('ibv_recv_wr', {
  wr_id: 'uint64_t',
  next: PTR,
  sg_list: PTR,
  num_sge: 'int',
});

export const IBV_WC = koffi.struct('ibv_wc', {
  wr_id: 'uint64_t',
  status: 'int',
  opcode: 'int',
  vendor_err: 'uint32_t',
  byte_len: 'uint32_t',
  imm_data: 'uint32_t',
  qp_num: 'uint32_t',
  src_qp: 'uint32_t',
  wc_flags: 'unsigned int',
  pkey_index: 'uint16_t',
  slid: 'uint16_t',
  sl: 'uint8_t',
  dlid_path_bits: 'uint8_t',
});

/** Every struct above that the ABI test compares with the C compiler's view (nested ones through their parents). */
export const ABI_TYPES: readonly TypeObject[] = [
  IBV_GID, IBV_GID_ENTRY, IBV_DEVICE_ATTR, IBV_PORT_ATTR, IBV_CONTEXT_OPS, IBV_CONTEXT, VERBS_CONTEXT,
  IBV_MR, IBV_COMP_CHANNEL, IBV_CQ, IBV_QP_CAP, IBV_QP_INIT_ATTR, IBV_QP, IBV_GLOBAL_ROUTE, IBV_AH_ATTR,
  IBV_QP_ATTR, IBV_SGE, IBV_SEND_WR, IBV_RECV_WR, IBV_WC,
];

/**
 * Byte offset of a member path ('wr.rdma.rkey') inside `type`: how the encoders find fields, computed
 * from the same koffi definitions the ABI test checks.
 */
export function offsetOf(type: TypeObject, path: string): number {
  let offset = 0;
  let current = type;
  for (const name of path.split('.')) {
    const member = current.members?.[name];
    if (!member) throw new Error(`${type.name} has no member ${path}`);
    offset += member.offset;
    current = member.type;
  }
  return offset;
}
