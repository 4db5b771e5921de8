/*
 * The messaging path: one TCP connection between every pair of nodes, over the nodes' sockets on
 * the simulated network. A message is a fixed header (struct dsm_msg) and, for a page transfer,
 * the page. Messages to the node itself never touch a socket: they wait in a local queue.
 *
 * In dune mode the same calls run inside Dune: each socket call is a system call the guest makes
 * from ring 0, which libDune's trampoline passes to the host kernel with a VMCALL.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dsm_internal.h"

static int fds[DSM_MAX_NODES];
static struct pollfd pfds[DSM_MAX_NODES];
static int pfd_node[DSM_MAX_NODES];
static int npfds;

/* Messages to self (no data): a ring. The protocol puts at most a few in flight per page. */
#define LOCAL_SLOTS 256
static struct dsm_msg local_q[LOCAL_SLOTS];
static unsigned local_head, local_tail;

/* One page plus its header: a page transfer leaves in one send. */
static struct {
	struct dsm_msg h;
	char data[DSM_PAGE_SIZE];
} out;

/* Set while a fault is being handled: time blocked here is the fault's network time. */
extern int dsm_in_fault;
/* Set in the last barrier: the others may close their connections once released. */
int dsm_closing;

static const char *const msg_names[DSM_TYPES] = {
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

static void write_full(int fd, const void *p, size_t len, int to)
{
	const char *c = p;
	while (len > 0) {
		ssize_t w = send(fd, c, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			dsm_fail("sending to node %d failed (errno %d): node %d is gone", to, errno, to);
		c += w;
		len -= (size_t) w;
	}
}

/* 1: read all; 0: the peer closed before the first byte. */
static int read_full(int fd, void *p, size_t len, int from)
{
	char *c = p;
	size_t got = 0;
	while (got < len) {
		ssize_t r = recv(fd, c + got, len - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			dsm_fail("receiving from node %d failed (errno %d)", from, errno);
		if (r == 0) {
			if (got == 0)
				return 0;
			dsm_fail("node %d closed its connection in the middle of a message", from);
		}
		got += (size_t) r;
	}
	return 1;
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
	write_full(fds[to], &out, len, to);
	if (dsm_in_fault)
		dsm_stats.net_cycles += dsm_rdtsc() - t0;
	dsm_stats.msgs_sent++;
	dsm_stats.bytes_sent += len;
	if (type <= DSM_CONFIRM) {
		dsm_stats.coherence_msgs++;
		dsm_stats.coherence_bytes += len;
	}
}

static void drain_local(void)
{
	while (local_head != local_tail) {
		struct dsm_msg m = local_q[local_head++ % LOCAL_SLOTS];
		dsm_dispatch(&m);
	}
}

static void receive_from(int i, const char *what, uint32_t page)
{
	int from = pfd_node[i];
	struct dsm_msg m;
	uint64_t t0 = dsm_rdtsc();
	if (!read_full(pfds[i].fd, &m, sizeof(m), from)) {
		if (dsm_closing && from != 0) {
			/* Released from the last barrier before this node: it has closed. Node 0's release
			 * reaches this node before node 0's own close (one connection, in order). */
			close(pfds[i].fd);
			pfds[i].fd = -1;
			return;
		}
		if (what != NULL && page != DSM_NO_PAGE)
			dsm_fail("node %d closed its connection (crashed?) while this node waited for %s of page %u",
				 from, what, page);
		if (what != NULL)
			dsm_fail("node %d closed its connection (crashed?) while this node waited for %s", from, what);
		dsm_fail("node %d closed its connection (crashed?)", from);
	}
	if (m.type == 0 || m.type >= DSM_TYPES || m.from != (uint32_t) from ||
	    m.page >= DSM_MAX_PAGES || m.node >= (uint32_t) dsm_cfg.nodes)
		dsm_fail("malformed message (type %u, page %u) from node %d", m.type, m.page, from);
	if (dsm_in_fault)
		dsm_stats.net_cycles += dsm_rdtsc() - t0;
	if (m.data) {
		if (m.type != DSM_PAGE_READ && m.type != DSM_PAGE_WRITE)
			dsm_fail("a %s from node %d carries data", msg_names[m.type], from);
		dsm_path->fill_begin(m.page);
		t0 = dsm_rdtsc();
		if (!read_full(pfds[i].fd, dsm_page_addr(m.page), DSM_PAGE_SIZE, from))
			dsm_fail("node %d closed its connection in the middle of page %u", from, m.page);
		if (dsm_in_fault)
			dsm_stats.net_cycles += dsm_rdtsc() - t0;
	}
	dsm_dispatch(&m);
}

static int poll_once(int timeout_ms, const char *what, uint32_t page)
{
	uint64_t t0 = dsm_rdtsc();
	int n = poll(pfds, npfds, timeout_ms);
	if (dsm_in_fault) {
		dsm_stats.wait_cycles += dsm_rdtsc() - t0;
		dsm_stats.net_cycles += dsm_rdtsc() - t0;
	}
	if (n < 0 && errno == EINTR)
		return 1;
	if (n < 0)
		dsm_fail("poll failed (errno %d)", errno);
	if (n == 0)
		return 0;
	for (int i = 0; i < npfds; i++) {
		if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))
			receive_from(i, what, page);
	}
	return 1;
}

void dsm_wait(volatile int *flag, const char *what, uint32_t page, int peer)
{
	for (;;) {
		drain_local();
		if (*flag)
			return;
		if (npfds == 0)
			dsm_fail("waiting for %s with no other node", what);
		if (poll_once(dsm_cfg.timeout_ms, what, page))
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
	if (npfds > 0)
		while (poll_once(0, NULL, 0))
			drain_local();
}

static uint32_t node_addr(int i)
{
	return htonl(dsm_cfg.addr_base + (uint32_t) i);
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * Node i connects to every node below it and accepts every node above it; a HELLO names the
 * caller. A connect refused because the peer is not listening yet is retried.
 */
int dsm_net_connect(void)
{
	int me = dsm_cfg.node, n = dsm_cfg.nodes;
	for (int i = 0; i < DSM_MAX_NODES; i++)
		fds[i] = -1;
	if (n == 1)
		return 0;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0) {
		fprintf(stderr, "dsm: node %d: socket failed (errno %d)\n", me, errno);
		return -1;
	}
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(dsm_cfg.port), .sin_addr = { node_addr(me) } };
	if (bind(ls, (struct sockaddr *) &a, sizeof(a)) != 0 || listen(ls, DSM_MAX_NODES) != 0) {
		fprintf(stderr, "dsm: node %d: cannot listen on port %d (errno %d)\n", me, dsm_cfg.port, errno);
		return -1;
	}
	for (int j = 0; j < me; j++) {
		struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = htons(dsm_cfg.port), .sin_addr = { node_addr(j) } };
		int tries = 0;
		for (;;) {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(s, (struct sockaddr *) &b, sizeof(b)) == 0) {
				fds[j] = s;
				break;
			}
			int e = errno;
			close(s);
			if (++tries > 2000 || (e != ECONNREFUSED && e != ETIMEDOUT)) {
				fprintf(stderr, "dsm: node %d: cannot connect to node %d (errno %d)\n", me, j, e);
				return -1;
			}
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
		}
		nodelay(fds[j]);
		struct dsm_msg h = { DSM_HELLO, (uint32_t) me, 0, (uint32_t) me, 0, 0, 0 };
		write_full(fds[j], &h, sizeof(h), j);
	}
	for (int k = me + 1; k < n; k++) {
		int s = accept(ls, NULL, NULL);
		if (s < 0) {
			fprintf(stderr, "dsm: node %d: accept failed (errno %d)\n", me, errno);
			return -1;
		}
		struct dsm_msg h;
		if (!read_full(s, &h, sizeof(h), -1) || h.type != DSM_HELLO || (int) h.from <= me || (int) h.from >= n ||
		    fds[h.from] != -1) {
			fprintf(stderr, "dsm: node %d: a connection that did not say hello properly\n", me);
			return -1;
		}
		nodelay(s);
		fds[h.from] = s;
	}
	close(ls);
	npfds = 0;
	for (int j = 0; j < n; j++) {
		if (j == me)
			continue;
		pfds[npfds].fd = fds[j];
		pfds[npfds].events = POLLIN;
		pfd_node[npfds++] = j;
	}
	return 0;
}

void dsm_net_close(void)
{
	for (int i = 0; i < npfds; i++)
		if (pfds[i].fd >= 0)
			close(pfds[i].fd);
	npfds = 0;
}
