/*
 * The socket transport: one TCP connection between every pair of nodes, over the nodes' sockets
 * on the simulated network. A message leaves in one send of header and page.
 *
 * In dune mode with DSM_NET=socket the same calls run inside Dune: each socket call is a system
 * call the guest makes from ring 0, which libDune's trampoline passes to the host kernel with a
 * VMCALL.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dsm_internal.h"

static int fds[DSM_MAX_NODES];
static struct pollfd pfds[DSM_MAX_NODES];
static int pfd_node[DSM_MAX_NODES];
static int npfds;

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

static void sock_send(int to, const struct dsm_msg *m, size_t len)
{
	write_full(fds[to], m, len, to);
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
	dsm_check_msg(&m, from);
	dsm_net_time(t0);
	if (m.data) {
		char *dst = dsm_page_landing(&m);
		t0 = dsm_rdtsc();
		if (!read_full(pfds[i].fd, dst, DSM_PAGE_SIZE, from))
			dsm_fail("node %d closed its connection in the middle of page %u", from, m.page);
		dsm_net_time(t0);
	}
	dsm_dispatch(&m);
}

static int sock_poll(int timeout_ms, const char *what, uint32_t page)
{
	uint64_t t0 = dsm_rdtsc();
	int n = poll(pfds, npfds, timeout_ms);
	dsm_wait_time(t0);
	dsm_net_time(t0);
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
static int sock_connect(void)
{
	int me = dsm_cfg.node, n = dsm_cfg.nodes;
	for (int i = 0; i < DSM_MAX_NODES; i++)
		fds[i] = -1;
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

static void sock_close(void)
{
	for (int i = 0; i < npfds; i++)
		if (pfds[i].fd >= 0)
			close(pfds[i].fd);
	npfds = 0;
}

const struct dsm_transport dsm_socket_transport = { "socket", sock_connect, sock_send, sock_poll, sock_close };
