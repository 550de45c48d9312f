/*
 * A fake verbs provider for test/verbs/data-path.test.ts: a device context whose ops table and
 * verbs_context point at the functions below, plus a CQ and a QP on it. It lets the bindings' inline
 * verbs (port query, poll, notify, post send / receive) run on a machine without RDMA: the fakes
 * record what the bindings passed and return what the test arranged, so the work-request encoding,
 * the completion decoding and the calls through the function pointers are checked against the C
 * structs as the compiler lays them out.
 *
 * Built by the test with: cc -std=gnu11 -shared -fPIC fake-provider.c (headers from libibverbs-dev).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <infiniband/verbs.h>
#include <string.h>

#define LOG_FIELDS 12
#define LOG_MAX 256

static struct verbs_context vctx;
static struct ibv_cq cq;
static struct ibv_qp qp;

/* One row per work request seen: kind (1 send, 2 recv), right qp, wr_id, opcode, send_flags,
 * imm (host order), remote_addr, rkey, num_sge, sge addr, sge length, sge lkey. */
static unsigned long long sent[LOG_MAX][LOG_FIELDS];
static int sent_count;
static int fail_at = -1;
static int pending;
static int poll_next;
static int last_solicited = -1;
static int query_port_len;

static void record(int kind, struct ibv_qp *q, unsigned long long wr_id, int num_sge, struct ibv_sge *sge,
		   const struct ibv_send_wr *swr)
{
	unsigned long long *row = sent[sent_count++ % LOG_MAX];

	memset(row, 0, sizeof(sent[0]));
	row[0] = kind;
	row[1] = q == &qp;
	row[2] = wr_id;
	row[8] = num_sge;
	if (sge && num_sge > 0) {
		row[9] = sge->addr;
		row[10] = sge->length;
		row[11] = sge->lkey;
	}
	if (swr) {
		row[3] = swr->opcode;
		row[4] = swr->send_flags;
		row[5] = ntohl(swr->imm_data);
		row[6] = swr->wr.rdma.remote_addr;
		row[7] = swr->wr.rdma.rkey;
	}
}

static int fake_post_send(struct ibv_qp *q, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	for (int i = 0; wr; wr = wr->next, i++) {
		if (i == fail_at) {
			*bad = wr;
			return ENOMEM;
		}
		record(1, q, wr->wr_id, wr->num_sge, wr->sg_list, wr);
	}
	return 0;
}

static int fake_post_recv(struct ibv_qp *q, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	for (int i = 0; wr; wr = wr->next, i++) {
		if (i == fail_at) {
			*bad = wr;
			return ENOMEM;
		}
		record(2, q, wr->wr_id, wr->num_sge, wr->sg_list, NULL);
	}
	return 0;
}

/* Completion i: wr_id 2^32 + i, status REM_ACCESS_ERR for i == 1, immediate data on even i. */
static int fake_poll_cq(struct ibv_cq *c, int n, struct ibv_wc *wc)
{
	if (c != &cq || pending < 0)
		return -1;
	int count = n < pending ? n : pending;

	for (int i = 0; i < count; i++) {
		int next = poll_next++;

		memset(&wc[i], 0, sizeof(wc[i]));
		wc[i].wr_id = (1ULL << 32) + next;
		wc[i].status = next == 1 ? IBV_WC_REM_ACCESS_ERR : IBV_WC_SUCCESS;
		wc[i].vendor_err = next == 1 ? 0x81 : 0;
		wc[i].opcode = next % 2 ? IBV_WC_RDMA_WRITE : IBV_WC_RECV_RDMA_WITH_IMM;
		wc[i].byte_len = 4096 * next;
		wc[i].imm_data = htonl(0xC0FFEE00u + next);
		wc[i].wc_flags = next % 2 ? 0 : IBV_WC_WITH_IMM;
		wc[i].qp_num = 0x123456;
	}
	pending -= count;
	return count;
}

static int fake_req_notify_cq(struct ibv_cq *c, int solicited_only)
{
	last_solicited = c == &cq ? solicited_only : -2;
	return 0;
}

static int fake_query_port(struct ibv_context *context, uint8_t port_num, struct ibv_port_attr *attr,
			   size_t len)
{
	query_port_len = (int)len;
	if (context != &vctx.context || port_num != 1 || len != sizeof(*attr))
		return EINVAL;
	memset(attr, 0, len);
	attr->state = IBV_PORT_ACTIVE;
	attr->max_mtu = IBV_MTU_4096;
	attr->active_mtu = IBV_MTU_1024;
	attr->gid_tbl_len = 4;
	attr->lid = 0x2a;
	attr->active_width = 2;
	attr->active_speed = 128;
	attr->phys_state = 5;
	attr->link_layer = IBV_LINK_LAYER_ETHERNET;
	return 0;
}

struct ibv_context *fake_context(void)
{
	vctx.sz = sizeof(vctx);
	vctx.query_port = fake_query_port;
	vctx.context.abi_compat = __VERBS_ABI_IS_EXTENDED;
	vctx.context.ops.poll_cq = fake_poll_cq;
	vctx.context.ops.req_notify_cq = fake_req_notify_cq;
	vctx.context.ops.post_send = fake_post_send;
	vctx.context.ops.post_recv = fake_post_recv;
	return &vctx.context;
}

struct ibv_cq *fake_cq(void)
{
	cq.context = &vctx.context;
	cq.cqe = 255;
	return &cq;
}

struct ibv_qp *fake_qp(void)
{
	qp.context = &vctx.context;
	qp.qp_num = 0x123456;
	return &qp;
}

void fake_arrange(int fail_at_index, int completions)
{
	fail_at = fail_at_index;
	pending = completions;
	poll_next = 0;
	sent_count = 0;
}

int fake_sent_count(void)
{
	return sent_count;
}

void fake_sent(int i, unsigned long long *out)
{
	memcpy(out, sent[i], sizeof(sent[0]));
}

int fake_last_solicited(void)
{
	return last_solicited;
}

int fake_query_port_len(void)
{
	return query_port_len;
}
