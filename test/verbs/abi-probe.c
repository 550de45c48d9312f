/*
 * ABI probe for native/verbs: prints what the C compiler knows about the libibverbs structs, constants
 * and symbols the koffi bindings use, one fact per line, for test/verbs/abi.test.ts to compare with the
 * koffi definitions:
 *
 *   type NAME SIZE ALIGN            sizeof / _Alignof
 *   field NAME.PATH OFFSET SIZE     offsetof / sizeof of a member (PATH may go through nested members)
 *   const NAME VALUE                an enum value or macro
 *   symbol NAME same|different      whether dlsym() finds the symbol version a C program links
 *
 * Nested structs that have a `type` line of their own are not descended into: their members are
 * checked under their own name. Built by the test with: cc -std=gnu11 abi-probe.c -libverbs -ldl
 * (the header and the linkable libibverbs.so come with the libibverbs-dev package).
 */
#include <dlfcn.h>
#include <infiniband/verbs.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TYPE(kind, name) \
	printf("type %s %zu %zu\n", #name, sizeof(kind name), _Alignof(kind name))
#define FIELD(kind, name, path) \
	printf("field %s.%s %zu %zu\n", #name, #path, offsetof(kind name, path), \
	       sizeof(((kind name *)0)->path))
#define S(name, path) FIELD(struct, name, path)
#define CONST(name) printf("const %s %llu\n", #name, (unsigned long long)(name))

/* verbs_context is declared from query_port on: sizes and offsets measured from there. */
#define VCTX_BASE offsetof(struct verbs_context, query_port)
#define VCTX(path) \
	printf("field verbs_context.%s %zu %zu\n", #path, \
	       offsetof(struct verbs_context, path) - VCTX_BASE, \
	       sizeof(((struct verbs_context *)0)->path))

static void *lib;
#define SYMBOL(name) \
	printf("symbol %s %s\n", #name, (void *)&name == dlsym(lib, #name) ? "same" : "different")

static void types(void)
{
	TYPE(union, ibv_gid);
	FIELD(union, ibv_gid, raw);
	FIELD(union, ibv_gid, global);
	FIELD(union, ibv_gid, global.subnet_prefix);
	FIELD(union, ibv_gid, global.interface_id);

	TYPE(struct, ibv_gid_entry);
	S(ibv_gid_entry, gid);
	S(ibv_gid_entry, gid_index);
	S(ibv_gid_entry, port_num);
	S(ibv_gid_entry, gid_type);
	S(ibv_gid_entry, ndev_ifindex);

	TYPE(struct, ibv_device_attr);
	S(ibv_device_attr, fw_ver);
	S(ibv_device_attr, node_guid);
	S(ibv_device_attr, sys_image_guid);
	S(ibv_device_attr, max_mr_size);
	S(ibv_device_attr, page_size_cap);
	S(ibv_device_attr, vendor_id);
	S(ibv_device_attr, vendor_part_id);
	S(ibv_device_attr, hw_ver);
	S(ibv_device_attr, max_qp);
	S(ibv_device_attr, max_qp_wr);
	S(ibv_device_attr, device_cap_flags);
	S(ibv_device_attr, max_sge);
	S(ibv_device_attr, max_sge_rd);
	S(ibv_device_attr, max_cq);
	S(ibv_device_attr, max_cqe);
	S(ibv_device_attr, max_mr);
	S(ibv_device_attr, max_pd);
	S(ibv_device_attr, max_qp_rd_atom);
	S(ibv_device_attr, max_ee_rd_atom);
	S(ibv_device_attr, max_res_rd_atom);
	S(ibv_device_attr, max_qp_init_rd_atom);
	S(ibv_device_attr, max_ee_init_rd_atom);
	S(ibv_device_attr, atomic_cap);
	S(ibv_device_attr, max_ee);
	S(ibv_device_attr, max_rdd);
	S(ibv_device_attr, max_mw);
	S(ibv_device_attr, max_raw_ipv6_qp);
	S(ibv_device_attr, max_raw_ethy_qp);
	S(ibv_device_attr, max_mcast_grp);
	S(ibv_device_attr, max_mcast_qp_attach);
	S(ibv_device_attr, max_total_mcast_qp_attach);
	S(ibv_device_attr, max_ah);
	S(ibv_device_attr, max_fmr);
	S(ibv_device_attr, max_map_per_fmr);
	S(ibv_device_attr, max_srq);
	S(ibv_device_attr, max_srq_wr);
	S(ibv_device_attr, max_srq_sge);
	S(ibv_device_attr, max_pkeys);
	S(ibv_device_attr, local_ca_ack_delay);
	S(ibv_device_attr, phys_port_cnt);

	TYPE(struct, ibv_port_attr);
	S(ibv_port_attr, state);
	S(ibv_port_attr, max_mtu);
	S(ibv_port_attr, active_mtu);
	S(ibv_port_attr, gid_tbl_len);
	S(ibv_port_attr, port_cap_flags);
	S(ibv_port_attr, max_msg_sz);
	S(ibv_port_attr, bad_pkey_cntr);
	S(ibv_port_attr, qkey_viol_cntr);
	S(ibv_port_attr, pkey_tbl_len);
	S(ibv_port_attr, lid);
	S(ibv_port_attr, sm_lid);
	S(ibv_port_attr, lmc);
	S(ibv_port_attr, max_vl_num);
	S(ibv_port_attr, sm_sl);
	S(ibv_port_attr, subnet_timeout);
	S(ibv_port_attr, init_type_reply);
	S(ibv_port_attr, active_width);
	S(ibv_port_attr, active_speed);
	S(ibv_port_attr, phys_state);
	S(ibv_port_attr, link_layer);
	S(ibv_port_attr, flags);
	S(ibv_port_attr, port_cap_flags2);

	TYPE(struct, ibv_context_ops);
	S(ibv_context_ops, _compat_query_device);
	S(ibv_context_ops, _compat_query_port);
	S(ibv_context_ops, _compat_alloc_pd);
	S(ibv_context_ops, _compat_dealloc_pd);
	S(ibv_context_ops, _compat_reg_mr);
	S(ibv_context_ops, _compat_rereg_mr);
	S(ibv_context_ops, _compat_dereg_mr);
	S(ibv_context_ops, alloc_mw);
	S(ibv_context_ops, bind_mw);
	S(ibv_context_ops, dealloc_mw);
	S(ibv_context_ops, _compat_create_cq);
	S(ibv_context_ops, poll_cq);
	S(ibv_context_ops, req_notify_cq);
	S(ibv_context_ops, _compat_cq_event);
	S(ibv_context_ops, _compat_resize_cq);
	S(ibv_context_ops, _compat_destroy_cq);
	S(ibv_context_ops, _compat_create_srq);
	S(ibv_context_ops, _compat_modify_srq);
	S(ibv_context_ops, _compat_query_srq);
	S(ibv_context_ops, _compat_destroy_srq);
	S(ibv_context_ops, post_srq_recv);
	S(ibv_context_ops, _compat_create_qp);
	S(ibv_context_ops, _compat_query_qp);
	S(ibv_context_ops, _compat_modify_qp);
	S(ibv_context_ops, _compat_destroy_qp);
	S(ibv_context_ops, post_send);
	S(ibv_context_ops, post_recv);
	S(ibv_context_ops, _compat_create_ah);
	S(ibv_context_ops, _compat_destroy_ah);
	S(ibv_context_ops, _compat_attach_mcast);
	S(ibv_context_ops, _compat_detach_mcast);
	S(ibv_context_ops, _compat_async_event);

	TYPE(struct, ibv_context);
	S(ibv_context, device);
	S(ibv_context, ops);
	S(ibv_context, cmd_fd);
	S(ibv_context, async_fd);
	S(ibv_context, num_comp_vectors);
	S(ibv_context, mutex);
	S(ibv_context, abi_compat);

	printf("type verbs_context %zu %zu\n", sizeof(struct verbs_context) - VCTX_BASE,
	       _Alignof(struct verbs_context));
	VCTX(query_port);
	VCTX(advise_mr);
	VCTX(alloc_null_mr);
	VCTX(read_counters);
	VCTX(attach_counters_point_flow);
	VCTX(create_counters);
	VCTX(destroy_counters);
	VCTX(reg_dm_mr);
	VCTX(alloc_dm);
	VCTX(free_dm);
	VCTX(modify_flow_action_esp);
	VCTX(destroy_flow_action);
	VCTX(create_flow_action_esp);
	VCTX(modify_qp_rate_limit);
	VCTX(alloc_parent_domain);
	VCTX(dealloc_td);
	VCTX(alloc_td);
	VCTX(modify_cq);
	VCTX(post_srq_ops);
	VCTX(destroy_rwq_ind_table);
	VCTX(create_rwq_ind_table);
	VCTX(destroy_wq);
	VCTX(modify_wq);
	VCTX(create_wq);
	VCTX(query_rt_values);
	VCTX(create_cq_ex);
	VCTX(priv);
	VCTX(query_device_ex);
	VCTX(ibv_destroy_flow);
	VCTX(ABI_placeholder2);
	VCTX(ibv_create_flow);
	VCTX(ABI_placeholder1);
	VCTX(open_qp);
	VCTX(create_qp_ex);
	VCTX(get_srq_num);
	VCTX(create_srq_ex);
	VCTX(open_xrcd);
	VCTX(close_xrcd);
	VCTX(_ABI_placeholder3);
	VCTX(sz);
	VCTX(context);

	TYPE(struct, ibv_mr);
	S(ibv_mr, context);
	S(ibv_mr, pd);
	S(ibv_mr, addr);
	S(ibv_mr, length);
	S(ibv_mr, handle);
	S(ibv_mr, lkey);
	S(ibv_mr, rkey);

	TYPE(struct, ibv_comp_channel);
	S(ibv_comp_channel, context);
	S(ibv_comp_channel, fd);
	S(ibv_comp_channel, refcnt);

	TYPE(struct, ibv_cq);
	S(ibv_cq, context);
	S(ibv_cq, channel);
	S(ibv_cq, cq_context);
	S(ibv_cq, handle);
	S(ibv_cq, cqe);
	S(ibv_cq, mutex);
	S(ibv_cq, cond);
	S(ibv_cq, comp_events_completed);
	S(ibv_cq, async_events_completed);

	TYPE(struct, ibv_qp_cap);
	S(ibv_qp_cap, max_send_wr);
	S(ibv_qp_cap, max_recv_wr);
	S(ibv_qp_cap, max_send_sge);
	S(ibv_qp_cap, max_recv_sge);
	S(ibv_qp_cap, max_inline_data);

	TYPE(struct, ibv_qp_init_attr);
	S(ibv_qp_init_attr, qp_context);
	S(ibv_qp_init_attr, send_cq);
	S(ibv_qp_init_attr, recv_cq);
	S(ibv_qp_init_attr, srq);
	S(ibv_qp_init_attr, cap);
	S(ibv_qp_init_attr, qp_type);
	S(ibv_qp_init_attr, sq_sig_all);

	TYPE(struct, ibv_qp);
	S(ibv_qp, context);
	S(ibv_qp, qp_context);
	S(ibv_qp, pd);
	S(ibv_qp, send_cq);
	S(ibv_qp, recv_cq);
	S(ibv_qp, srq);
	S(ibv_qp, handle);
	S(ibv_qp, qp_num);
	S(ibv_qp, state);
	S(ibv_qp, qp_type);
	S(ibv_qp, mutex);
	S(ibv_qp, cond);
	S(ibv_qp, events_completed);

	TYPE(struct, ibv_global_route);
	S(ibv_global_route, dgid);
	S(ibv_global_route, flow_label);
	S(ibv_global_route, sgid_index);
	S(ibv_global_route, hop_limit);
	S(ibv_global_route, traffic_class);

	TYPE(struct, ibv_ah_attr);
	S(ibv_ah_attr, grh);
	S(ibv_ah_attr, dlid);
	S(ibv_ah_attr, sl);
	S(ibv_ah_attr, src_path_bits);
	S(ibv_ah_attr, static_rate);
	S(ibv_ah_attr, is_global);
	S(ibv_ah_attr, port_num);

	TYPE(struct, ibv_qp_attr);
	S(ibv_qp_attr, qp_state);
	S(ibv_qp_attr, cur_qp_state);
	S(ibv_qp_attr, path_mtu);
	S(ibv_qp_attr, path_mig_state);
	S(ibv_qp_attr, qkey);
	S(ibv_qp_attr, rq_psn);
	S(ibv_qp_attr, sq_psn);
	S(ibv_qp_attr, dest_qp_num);
	S(ibv_qp_attr, qp_access_flags);
	S(ibv_qp_attr, cap);
	S(ibv_qp_attr, ah_attr);
	S(ibv_qp_attr, alt_ah_attr);
	S(ibv_qp_attr, pkey_index);
	S(ibv_qp_attr, alt_pkey_index);
	S(ibv_qp_attr, en_sqd_async_notify);
	S(ibv_qp_attr, sq_draining);
	S(ibv_qp_attr, max_rd_atomic);
	S(ibv_qp_attr, max_dest_rd_atomic);
	S(ibv_qp_attr, min_rnr_timer);
	S(ibv_qp_attr, port_num);
	S(ibv_qp_attr, timeout);
	S(ibv_qp_attr, retry_cnt);
	S(ibv_qp_attr, rnr_retry);
	S(ibv_qp_attr, alt_port_num);
	S(ibv_qp_attr, alt_timeout);
	S(ibv_qp_attr, rate_limit);

	TYPE(struct, ibv_sge);
	S(ibv_sge, addr);
	S(ibv_sge, length);
	S(ibv_sge, lkey);

	TYPE(struct, ibv_send_wr);
	S(ibv_send_wr, wr_id);
	S(ibv_send_wr, next);
	S(ibv_send_wr, sg_list);
	S(ibv_send_wr, num_sge);
	S(ibv_send_wr, opcode);
	S(ibv_send_wr, send_flags);
	S(ibv_send_wr, imm_data);
	S(ibv_send_wr, wr);
	S(ibv_send_wr, wr.rdma);
	S(ibv_send_wr, wr.rdma.remote_addr);
	S(ibv_send_wr, wr.rdma.rkey);
	S(ibv_send_wr, wr.atomic);
	S(ibv_send_wr, qp_type);
	S(ibv_send_wr, qp_type.xrc);
	S(ibv_send_wr, qp_type.xrc.remote_srqn);
	S(ibv_send_wr, bind_mw);

	TYPE(struct, ibv_recv_wr);
	S(ibv_recv_wr, wr_id);
	S(ibv_recv_wr, next);
	S(ibv_recv_wr, sg_list);
	S(ibv_recv_wr, num_sge);

	TYPE(struct, ibv_wc);
	S(ibv_wc, wr_id);
	S(ibv_wc, status);
	S(ibv_wc, opcode);
	S(ibv_wc, vendor_err);
	S(ibv_wc, byte_len);
	S(ibv_wc, imm_data);
	S(ibv_wc, qp_num);
	S(ibv_wc, src_qp);
	S(ibv_wc, wc_flags);
	S(ibv_wc, pkey_index);
	S(ibv_wc, slid);
	S(ibv_wc, sl);
	S(ibv_wc, dlid_path_bits);
}

static void constants(void)
{
	CONST(__VERBS_ABI_IS_EXTENDED);
	CONST(IBV_PORT_NOP);
	CONST(IBV_PORT_DOWN);
	CONST(IBV_PORT_INIT);
	CONST(IBV_PORT_ARMED);
	CONST(IBV_PORT_ACTIVE);
	CONST(IBV_PORT_ACTIVE_DEFER);
	CONST(IBV_LINK_LAYER_UNSPECIFIED);
	CONST(IBV_LINK_LAYER_INFINIBAND);
	CONST(IBV_LINK_LAYER_ETHERNET);
	CONST(IBV_MTU_256);
	CONST(IBV_MTU_512);
	CONST(IBV_MTU_1024);
	CONST(IBV_MTU_2048);
	CONST(IBV_MTU_4096);
	CONST(IBV_GID_TYPE_IB);
	CONST(IBV_GID_TYPE_ROCE_V1);
	CONST(IBV_GID_TYPE_ROCE_V2);
	CONST(IBV_ACCESS_LOCAL_WRITE);
	CONST(IBV_ACCESS_REMOTE_WRITE);
	CONST(IBV_QPT_RC);
	CONST(IBV_QPS_RESET);
	CONST(IBV_QPS_INIT);
	CONST(IBV_QPS_RTR);
	CONST(IBV_QPS_RTS);
	CONST(IBV_QPS_SQD);
	CONST(IBV_QPS_SQE);
	CONST(IBV_QPS_ERR);
	CONST(IBV_QP_STATE);
	CONST(IBV_QP_ACCESS_FLAGS);
	CONST(IBV_QP_PKEY_INDEX);
	CONST(IBV_QP_PORT);
	CONST(IBV_QP_AV);
	CONST(IBV_QP_PATH_MTU);
	CONST(IBV_QP_TIMEOUT);
	CONST(IBV_QP_RETRY_CNT);
	CONST(IBV_QP_RNR_RETRY);
	CONST(IBV_QP_RQ_PSN);
	CONST(IBV_QP_MAX_QP_RD_ATOMIC);
	CONST(IBV_QP_MIN_RNR_TIMER);
	CONST(IBV_QP_SQ_PSN);
	CONST(IBV_QP_MAX_DEST_RD_ATOMIC);
	CONST(IBV_QP_DEST_QPN);
	CONST(IBV_WR_RDMA_WRITE);
	CONST(IBV_WR_RDMA_WRITE_WITH_IMM);
	CONST(IBV_SEND_SIGNALED);
	CONST(IBV_WC_SUCCESS);
	CONST(IBV_WC_LOC_LEN_ERR);
	CONST(IBV_WC_LOC_QP_OP_ERR);
	CONST(IBV_WC_LOC_EEC_OP_ERR);
	CONST(IBV_WC_LOC_PROT_ERR);
	CONST(IBV_WC_WR_FLUSH_ERR);
	CONST(IBV_WC_MW_BIND_ERR);
	CONST(IBV_WC_BAD_RESP_ERR);
	CONST(IBV_WC_LOC_ACCESS_ERR);
	CONST(IBV_WC_REM_INV_REQ_ERR);
	CONST(IBV_WC_REM_ACCESS_ERR);
	CONST(IBV_WC_REM_OP_ERR);
	CONST(IBV_WC_RETRY_EXC_ERR);
	CONST(IBV_WC_RNR_RETRY_EXC_ERR);
	CONST(IBV_WC_LOC_RDD_VIOL_ERR);
	CONST(IBV_WC_REM_INV_RD_REQ_ERR);
	CONST(IBV_WC_REM_ABORT_ERR);
	CONST(IBV_WC_INV_EECN_ERR);
	CONST(IBV_WC_INV_EEC_STATE_ERR);
	CONST(IBV_WC_FATAL_ERR);
	CONST(IBV_WC_RESP_TIMEOUT_ERR);
	CONST(IBV_WC_GENERAL_ERR);
	CONST(IBV_WC_TM_ERR);
	CONST(IBV_WC_TM_RNDV_INCOMPLETE);
	CONST(IBV_WC_SEND);
	CONST(IBV_WC_RDMA_WRITE);
	CONST(IBV_WC_RDMA_READ);
	CONST(IBV_WC_RECV);
	CONST(IBV_WC_RECV_RDMA_WITH_IMM);
	CONST(IBV_WC_WITH_IMM);
}

static void symbols(void)
{
	lib = dlopen("libibverbs.so.1", RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "dlopen libibverbs.so.1: %s\n", dlerror());
		return;
	}
	SYMBOL(ibv_get_device_list);
	SYMBOL(ibv_free_device_list);
	SYMBOL(ibv_get_device_name);
	SYMBOL(ibv_open_device);
	SYMBOL(ibv_close_device);
	SYMBOL(ibv_query_device);
	SYMBOL(ibv_query_port);
	SYMBOL(_ibv_query_gid_ex);
	SYMBOL(ibv_alloc_pd);
	SYMBOL(ibv_dealloc_pd);
	SYMBOL(ibv_reg_mr);
	SYMBOL(ibv_dereg_mr);
	SYMBOL(ibv_create_comp_channel);
	SYMBOL(ibv_destroy_comp_channel);
	SYMBOL(ibv_create_cq);
	SYMBOL(ibv_destroy_cq);
	SYMBOL(ibv_get_cq_event);
	SYMBOL(ibv_ack_cq_events);
	SYMBOL(ibv_create_qp);
	SYMBOL(ibv_modify_qp);
	SYMBOL(ibv_destroy_qp);
	SYMBOL(ibv_wc_status_str);
}

int main(void)
{
	types();
	constants();
	symbols();
	return lib ? 0 : 1;
}
