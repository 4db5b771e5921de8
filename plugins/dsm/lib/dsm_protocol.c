/*
 * The messaging path's shared half: message framing and accounting, the local queue for messages
 * to oneself, checking what arrives, and the waits with their reports. How bytes move between
 * nodes is a transport's (struct dsm_transport): TCP sockets (dsm_socket.c) or, inside Dune, a
 * queue of the NIC driven from ring 0 (dsm_nic.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dsm_internal.h"

static const struct dsm_transport *transport;

/* Messages to self (no data): a ring. The protocol puts at most a few in flight per page. */
#define LOCAL_SLOTS 256
static struct dsm_msg local_q[LOCAL_SLOTS];
static unsigned local_head, local_tail;

/* One page plus its header: a page transfer leaves as one message. */
static struct {
	struct dsm_msg h;
	char data[DSM_PAGE_SIZE];
} out;

/* Set in the last barrier: the others may close their connections once released. */
int dsm_closing;

const char *const dsm_msg_names[DSM_TYPES] = {
	[DSM_HELLO] = "hello", [DSM_REQ_READ] = "read request", [DSM_REQ_WRITE] = "write request",
	[DSM_FWD_READ] = "forwarded read request", [DSM_FWD_WRITE] = "forwarded write request",
	[DSM_PAGE_READ] = "read copy", [DSM_PAGE_WRITE] = "ownership",
	[DSM_INVALIDATE] = "invalidation", [DSM_INV_ACK] = "invalidation ack",
	[DSM_CONFIRM] = "confirmation", [DSM_LOCK_REQ] = "lock request", [DSM_LOCK_GRANT] = "lock grant",
	[DSM_UNLOCK] = "unlock", [DSM_BARRIER] = "barrier arrival", [DSM_BARRIER_GO] = "barrier release",
};

void dsm_fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "dsm: node %d: ", dsm_cfg.node);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n > (int) sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void) !write(2, buf, n);
	_exit(3);
}

void dsm_net_time(uint64_t t0)
{
	if (dsm_in_fault)
		dsm_stats.net_cycles += dsm_rdtsc() - t0;
}

void dsm_wait_time(uint64_t t0)
{
	if (dsm_in_fault)
		dsm_stats.wait_cycles += dsm_rdtsc() - t0;
}

void dsm_send(int to, uint32_t type, uint32_t page, uint32_t node, uint64_t arg, const void *data)
{
	struct dsm_msg m = { type, (uint32_t) dsm_cfg.node, page, node, arg, data != NULL, 0 };
	if (to == dsm_cfg.node) {
		if (local_tail - local_head == LOCAL_SLOTS)
			dsm_fail("local message queue full (page %u)", page);
		local_q[local_tail++ % LOCAL_SLOTS] = m;
		return;
	}
	size_t len = sizeof(m);
	out.h = m;
	if (data != NULL) {
		memcpy(out.data, data, DSM_PAGE_SIZE);
		len += DSM_PAGE_SIZE;
		dsm_stats.pages_sent++;
	}
	uint64_t t0 = dsm_rdtsc();
	transport->send(to, &out.h, len);
	if (dsm_in_fault) {
		uint64_t dt = dsm_rdtsc() - t0;
		dsm_stats.net_cycles += dt;
		dsm_stats.send_cycles += dt;
	}
	dsm_stats.msgs_sent++;
	dsm_stats.bytes_sent += len;
	if (type <= DSM_CONFIRM) {
		dsm_stats.coherence_msgs++;
		dsm_stats.coherence_bytes += len;
	}
}

void dsm_check_msg(const struct dsm_msg *m, int from)
{
	if (m->type == 0 || m->type >= DSM_TYPES || m->from != (uint32_t) from ||
	    m->page >= DSM_MAX_PAGES || m->node >= (uint32_t) dsm_cfg.nodes)
		dsm_fail("malformed message (type %u, page %u) from node %d", m->type, m->page, from);
	if (m->data && m->type != DSM_PAGE_READ && m->type != DSM_PAGE_WRITE)
		dsm_fail("a %s from node %d carries data", dsm_msg_names[m->type], from);
}

char *dsm_page_landing(const struct dsm_msg *m)
{
	dsm_path->fill_begin(m->page);
	return dsm_page_addr(m->page);
}

static void drain_local(void)
{
	while (local_head != local_tail) {
		struct dsm_msg m = local_q[local_head++ % LOCAL_SLOTS];
		dsm_dispatch(&m);
	}
}

void dsm_wait(volatile int *flag, const char *what, uint32_t page, int peer)
{
	for (;;) {
		drain_local();
		if (*flag)
			return;
		if (dsm_cfg.nodes == 1)
			dsm_fail("waiting for %s with no other node", what);
		if (transport->poll(dsm_cfg.timeout_ms, what, page))
			continue;
		if (page != DSM_NO_PAGE)
			dsm_fail("nothing heard for %d ms while waiting for %s of page %u from node %d (a lost message or a crashed node)",
				 dsm_cfg.timeout_ms, what, page, peer);
		dsm_fail("nothing heard for %d ms while waiting for %s from node %d (a lost message or a crashed node)",
			 dsm_cfg.timeout_ms, what, peer);
	}
}

void dsm_net_poll(void)
{
	drain_local();
	if (dsm_cfg.nodes > 1)
		while (transport->poll(0, NULL, 0))
			drain_local();
}

int dsm_net_connect(void)
{
	transport = dsm_cfg.nic ? &dsm_nic_transport : &dsm_socket_transport;
	if (dsm_cfg.nodes == 1)
		return 0;
	return transport->connect();
}

void dsm_net_close(void)
{
	if (dsm_cfg.nodes > 1)
		transport->close();
}
