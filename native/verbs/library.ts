/**
 * libibverbs.so.1 through koffi: the exported verbs the wrappers call.
 *
 * Decisions:
 * - Loaded on first use (`verbs()`), so importing the bindings costs nothing and a node that never
 *   asks for the verbs backend never touches the library; a missing library becomes a
 *   `LibibverbsMissingError` saying what to install. 64-bit Linux (x64, arm64) only, like types.ts.
 * - Plain `dlsym` lookups give each symbol's default version (`ibv_get_device_list@@IBVERBS_1.1`, not
 *   the 1.0 compatibility one), the same one a C program compiled against the header links; the ABI
 *   test checks that for every name in `SYMBOLS`.
 * - Only what the header really calls is bound. `ibv_reg_mr` is a macro that calls the exported
 *   `ibv_reg_mr` when the access flags hold no optional bits (ours never do). `ibv_query_gid_ex` is an
 *   inline around `_ibv_query_gid_ex` (rdma-core >= 32), which gives the GID and its type in one call,
 *   so neither `ibv_query_gid` nor a GID-type lookup is needed. `ibv_query_port` is an inline that
 *   calls through the provider's `verbs_context` (context-ops.ts) and falls back to the exported
 *   `ibv_query_port` for a context without one. The data-path verbs are inlines through
 *   `context->ops` (context-ops.ts).
 * - Every pointer is `void *` (a BigInt); structs the library fills are koffi `_Out_`/`_Inout_`
 *   parameters of the types in types.ts (registered by name when that module loads).
 */
import koffi, { type LibraryHandle } from 'koffi';
import { LibibverbsMissingError } from './errors.js';
import './types.js';

const LIBIBVERBS = 'libibverbs.so.1';

/** C prototypes, written as in verbs.h with verbs objects as `void *`. */
const PROTOTYPES = {
  ibv_get_device_list: 'void *ibv_get_device_list(_Out_ int *num_devices)',
  ibv_free_device_list: 'void ibv_free_device_list(void *list)',
  ibv_get_device_name: 'const char *ibv_get_device_name(void *device)',
  ibv_open_device: 'void *ibv_open_device(void *device)',
  ibv_close_device: 'int ibv_close_device(void *context)',
  ibv_query_device: 'int ibv_query_device(void *context, _Out_ ibv_device_attr *device_attr)',
  ibv_query_port: 'int ibv_query_port(void *context, uint8_t port_num, _Out_ ibv_port_attr *port_attr)',
  _ibv_query_gid_ex: 'int _ibv_query_gid_ex(void *context, uint32_t port_num, uint32_t gid_index, _Out_ ibv_gid_entry *entry, uint32_t flags, size_t entry_size)',
  ibv_alloc_pd: 'void *ibv_alloc_pd(void *context)',
  ibv_dealloc_pd: 'int ibv_dealloc_pd(void *pd)',
  ibv_reg_mr: 'void *ibv_reg_mr(void *pd, void *addr, size_t length, int access)',
  ibv_dereg_mr: 'int ibv_dereg_mr(void *mr)',
  ibv_create_comp_channel: 'void *ibv_create_comp_channel(void *context)',
  ibv_destroy_comp_channel: 'int ibv_destroy_comp_channel(void *channel)',
  ibv_create_cq: 'void *ibv_create_cq(void *context, int cqe, void *cq_context, void *channel, int comp_vector)',
  ibv_destroy_cq: 'int ibv_destroy_cq(void *cq)',
  ibv_get_cq_event: 'int ibv_get_cq_event(void *channel, void *cq_out, void *cq_context_out)',
  ibv_ack_cq_events: 'void ibv_ack_cq_events(void *cq, unsigned int nevents)',
  ibv_create_qp: 'void *ibv_create_qp(void *pd, _Inout_ ibv_qp_init_attr *qp_init_attr)',
  ibv_modify_qp: 'int ibv_modify_qp(void *qp, ibv_qp_attr *attr, int attr_mask)',
  ibv_destroy_qp: 'int ibv_destroy_qp(void *qp)',
  ibv_wc_status_str: 'const char *ibv_wc_status_str(int status)',
} as const;

/** The exported symbols bound here (the ABI test checks each resolves to its default version). */
export const SYMBOLS = Object.keys(PROTOTYPES) as readonly (keyof typeof PROTOTYPES)[];

type Ptr = bigint;
type Out<T> = Partial<T>;

export interface VerbsBindings {
  ibv_get_device_list(numDevices: [number]): Ptr | null;
  ibv_free_device_list(list: Ptr): void;
  ibv_get_device_name(device: Ptr): string | null;
  ibv_open_device(device: Ptr): Ptr | null;
  ibv_close_device(context: Ptr): number;
  ibv_query_device(context: Ptr, attr: Out<RawDeviceAttr>): number;
  ibv_query_port(context: Ptr, port: number, attr: Out<RawPortAttr>): number;
  _ibv_query_gid_ex(context: Ptr, port: number, index: number, entry: Out<RawGidEntry>, flags: number, entrySize: number): number;
  ibv_alloc_pd(context: Ptr): Ptr | null;
  ibv_dealloc_pd(pd: Ptr): number;
  ibv_reg_mr(pd: Ptr, addr: Uint8Array, length: number, access: number): Ptr | null;
  ibv_dereg_mr(mr: Ptr): number;
  ibv_create_comp_channel(context: Ptr): Ptr | null;
  ibv_destroy_comp_channel(channel: Ptr): number;
  ibv_create_cq(context: Ptr, cqe: number, cqContext: null, channel: Ptr | null, compVector: number): Ptr | null;
  ibv_destroy_cq(cq: Ptr): number;
  ibv_get_cq_event(channel: Ptr, cqOut: BigUint64Array, cqContextOut: BigUint64Array): number;
  ibv_ack_cq_events(cq: Ptr, nevents: number): void;
  ibv_create_qp(pd: Ptr, attr: RawQpInitAttr): Ptr | null;
  ibv_modify_qp(qp: Ptr, attr: RawQpAttr, mask: number): number;
  ibv_destroy_qp(qp: Ptr): number;
  /** libibverbs' own text for a completion status (a pure function: also what primes a thread, see context-ops.ts). */
  ibv_wc_status_str(status: number): string;
}

/** `struct ibv_device_attr` as koffi decodes it (the members the wrappers read). */
export interface RawDeviceAttr {
  fw_ver: string;
  vendor_id: number;
  vendor_part_id: number;
  max_qp: number;
  max_qp_wr: number;
  max_sge: number;
  max_cq: number;
  max_cqe: number;
  max_mr: number;
  max_qp_rd_atom: number;
  max_qp_init_rd_atom: number;
  phys_port_cnt: number;
}

/** `struct ibv_port_attr` as koffi decodes it (the members the wrappers read). */
export interface RawPortAttr {
  state: number;
  max_mtu: number;
  active_mtu: number;
  gid_tbl_len: number;
  lid: number;
  active_width: number;
  active_speed: number;
  phys_state: number;
  link_layer: number;
}

/** `struct ibv_gid_entry` as koffi decodes it. */
export interface RawGidEntry {
  gid: { raw: Uint8Array };
  gid_index: number;
  port_num: number;
  gid_type: number;
}

export interface RawQpCap {
  max_send_wr: number;
  max_recv_wr: number;
  max_send_sge: number;
  max_recv_sge: number;
  max_inline_data: number;
}

export interface RawQpInitAttr {
  send_cq: Ptr;
  recv_cq: Ptr;
  cap: RawQpCap;
  qp_type: number;
  sq_sig_all: number;
}

/** The members of `struct ibv_qp_attr` the RC state transitions set; the rest stay zero. */
export interface RawQpAttr {
  qp_state: number;
  path_mtu?: number;
  rq_psn?: number;
  sq_psn?: number;
  dest_qp_num?: number;
  qp_access_flags?: number;
  ah_attr?: {
    grh: { dgid: { raw: Uint8Array }; sgid_index: number; hop_limit: number; traffic_class: number };
    dlid: number;
    sl: number;
    is_global: number;
    port_num: number;
  };
  pkey_index?: number;
  max_rd_atomic?: number;
  max_dest_rd_atomic?: number;
  min_rnr_timer?: number;
  port_num?: number;
  timeout?: number;
  retry_cnt?: number;
  rnr_retry?: number;
}

/** Loads `soname` and binds every prototype; throws LibibverbsMissingError when it cannot be loaded. */
export function bindLibibverbs(soname: string): VerbsBindings {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) {
    throw new LibibverbsMissingError(soname, `the verbs bindings support Linux on x64 and arm64, this is ${process.platform}/${process.arch}`);
  }
  let lib: LibraryHandle;
  try {
    lib = koffi.load(soname);
  } catch (err) {
    throw new LibibverbsMissingError(soname, err instanceof Error ? err.message : String(err));
  }
  return Object.fromEntries(Object.entries(PROTOTYPES).map(([name, proto]) => [name, lib.func(proto)])) as unknown as VerbsBindings;
}

let bindings: VerbsBindings | undefined;

/** The process-wide bindings to libibverbs.so.1, loaded on first use. */
export function verbs(): VerbsBindings {
  bindings ??= bindLibibverbs(LIBIBVERBS);
  return bindings;
}
