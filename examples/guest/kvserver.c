/*
 * A key-value server that speaks memcached's text protocol (the subset the IX paper's mutilate
 * load uses: get, set, delete), built like memcached 1.4: a chained hash table of 2^16 buckets,
 * one epoll event loop per thread (one thread per core), the first thread also accepting and
 * handing connections out round robin. Locks are where memcached 1.4.18 has them: a striped
 * item lock chosen by the key's hash around every lookup and change of a bucket, and the global
 * cache_lock around linking and unlinking items (set, delete), so writes contend and reads do not.
 *
 *   kvserver PORT THREADS CONNS [-t]
 *
 * The protocol, the table and its locks are in kv-protocol.c, which the IX front end
 * (plugins/ix-dataplane/programs/kvserver-ix.c) shares.
 *
 * PORT 0 lets the kernel pick (printed to stderr only). The server exits once CONNS connections
 * have come and gone (0: never) and prints its counters. With -t it is also its own client: a
 * thread runs a scripted session over 127.0.0.1 (good and malformed commands, pipelined, a line
 * that is too long, a client that leaves mid-request) and its replies are printed, so the output
 * is the same natively and on the model; CONNS must then be 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "kv-protocol.h"

#define MAX_LOOPS 16
#define MAX_EVENTS 64

static volatile int closed_conns;
static volatile int done;
static int conns_wanted;
static int nloops;
static int listener;
static int loop_fd[MAX_LOOPS];
static unsigned short port;

static void die(const char *what)
{
	fprintf(stderr, "kvserver: %s: %s\n", what, strerror(errno));
	exit(1);
}

void *kv_alloc(size_t n)
{
	return malloc(n);
}

void *kv_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

void kv_free(void *p)
{
	free(p);
}

void kv_die(const char *what)
{
	die(what);
}

struct conn {
	struct kv_conn kv;
	int fd;
	int loop;
	uint32_t events; /* what epoll watches for now: EPOLLIN, or EPOLLOUT while answers wait */
};

/* Sends what is queued. 1: all sent; 0: the socket is full; -1: the peer has gone. */
static int flush(struct conn *cn)
{
	struct kv_conn *c = &cn->kv;
	while (c->wpos < c->wlen) {
		ssize_t w = write(cn->fd, c->wbuf + c->wpos, c->wlen - c->wpos);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		c->wpos += (size_t)w;
	}
	c->wpos = c->wlen = 0;
	return 1;
}

static void conn_close(struct conn *c)
{
	epoll_ctl(loop_fd[c->loop], EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	kv_conn_release(&c->kv);
	free(c);
	int k = __atomic_add_fetch(&closed_conns, 1, __ATOMIC_SEQ_CST);
	if (conns_wanted > 0 && k >= conns_wanted)
		done = 1;
}

/* Readable or writable: read what is there, answer every complete request, send the answers. */
static void serve(struct conn *c)
{
	int f = flush(c);
	if (f < 0 || (f == 1 && c->kv.closing)) {
		conn_close(c);
		return;
	}
	/* Answers still queued: read no more until the client takes them (memcached's conn_mwrite). */
	if (f == 0)
		return;
	for (;;) {
		/* Room for 1 KB more, or for the whole data block of the set being read (it starts at 0). */
		size_t room = kv_reserve(&c->kv);
		ssize_t n = read(c->fd, c->kv.rbuf + c->kv.rlen, room);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			conn_close(c);
			return;
		}
		if (n < 0)
			break;
		c->kv.rlen += (size_t)n;
		kv_process(&c->kv);
		if (c->kv.closing)
			break;
		if ((size_t)n < room)
			break;
	}
	f = flush(c);
	if (f < 0 || (c->kv.closing && f == 1)) {
		conn_close(c);
		return;
	}
	/* Like memcached's update_event: a system call only when what is watched changes. While
	 * answers wait, only EPOLLOUT: a level-triggered EPOLLIN that is not read would spin. */
	uint32_t want = f == 0 ? EPOLLOUT : EPOLLIN;
	if (want != c->events) {
		struct epoll_event ev = { .events = want, .data.ptr = c };
		epoll_ctl(loop_fd[c->loop], EPOLL_CTL_MOD, c->fd, &ev);
		c->events = want;
	}
}

static void *event_loop(void *arg)
{
	int id = (int)(long)arg;
	struct epoll_event ev[MAX_EVENTS];
	int next = 0;
	while (!done) {
		int n = epoll_wait(loop_fd[id], ev, MAX_EVENTS, 100);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr != NULL) {
				serve(ev[i].data.ptr);
				continue;
			}
			for (;;) {
				int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
				if (fd < 0)
					break;
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				struct conn *c = calloc(1, sizeof *c);
				if (c == NULL)
					die("calloc");
				c->fd = fd;
				c->loop = next;
				c->events = EPOLLIN;
				kv_conn_init(&c->kv);
				struct epoll_event ce = { .events = EPOLLIN, .data.ptr = c };
				if (epoll_ctl(loop_fd[next], EPOLL_CTL_ADD, fd, &ce) != 0)
					die("epoll_ctl");
				next = (next + 1) % nloops;
			}
		}
	}
	return NULL;
}

/* The -t client's sessions, and where it keeps what the server answered. */
static char transcript[16384];
static size_t tlen;

static void note(const char *s, size_t n)
{
	/* "\r\n" shown as "|": the transcript stays one reply per line and shows the protocol's line ends */
	for (size_t i = 0; i < n && tlen + 2 < sizeof transcript; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
			transcript[tlen++] = '|';
			transcript[tlen++] = '\n';
			i++;
		} else {
			transcript[tlen++] = s[i];
		}
	}
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		die("client connect");
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, s + off, n - off);
		if (w <= 0)
			die("client write");
		off += (size_t)w;
	}
}

/* Sends a session and records every byte the server answers until it closes the connection. */
static void session(const char *title, const char *req, size_t n, int half)
{
	char buf[4096];
	int fd = dial();
	send_all(fd, req, n);
	if (half) {
		/* a client that leaves in the middle of a set's data: the server must just drop it */
		close(fd);
		note(title, strlen(title));
		note(": closed mid-request\r\n", 22);
		return;
	}
	note(title, strlen(title));
	note(":\r\n", 3);
	for (;;) {
		ssize_t k = read(fd, buf, sizeof buf);
		if (k <= 0)
			break;
		note(buf, (size_t)k);
	}
	close(fd);
}

static void *self_test(void *arg)
{
	(void)arg;
	static const char script[] =
		"set k1 5 0 5\r\nhello\r\n"
		"get k1\r\n"
		"get k1 nokey k1\r\n"
		"get nokey\r\n"
		"set k1 7 0 3\r\nbye\r\n"
		"get k1\r\n"
		"delete k1\r\n"
		"delete k1\r\n"
		"set k2 0 0 3 noreply\r\nabc\r\n"
		"get k2\r\n"
		"delete k2 noreply\r\n"
		"get k2\r\n"
		"set k3 0 0 0\r\n\r\n"
		"get k3\r\n"
		"set k4 0 0 abc\r\n"
		"set k4 0 0 -1\r\n"
		"set k4 0 0\r\n"
		"set k4 0 0 3\r\nabcd\r\n"
		"get\r\n"
		"delete\r\n"
		"delete k1 5\r\n"
		"bogus command\r\n"
		"\r\n"
		"set a 0 0 1\nx\r\nget a\nquit\r\n";
	static char big[LINE_MAX_BYTES + 1];
	session("script", script, sizeof script - 1, 0);
	/* a line with no end: refused, and the connection closed */
	memset(big, 'g', sizeof big);
	memcpy(big, "get ", 4);
	session("long line", big, sizeof big, 0);
	session("half set", "set k9 0 0 10\r\nabc", 18, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "-t") == 0)) {
		fprintf(stderr, "usage: kvserver PORT THREADS CONNS [-t]\n");
		return 2;
	}
	port = (unsigned short)atoi(argv[1]);
	nloops = atoi(argv[2]);
	conns_wanted = atoi(argv[3]);
	int selftest = argc == 5;
	if (nloops < 1 || nloops > MAX_LOOPS || conns_wanted < 0 || (selftest && conns_wanted != 3)) {
		fprintf(stderr, "kvserver: bad arguments\n");
		return 2;
	}
	kv_init();
	listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof a) != 0)
		die("bind");
	if (listen(listener, 1024) != 0)
		die("listen");
	socklen_t al = sizeof a;
	getsockname(listener, (struct sockaddr *)&a, &al);
	port = ntohs(a.sin_port);
	fprintf(stderr, "kvserver: listening on port %u\n", port);
	for (int i = 0; i < nloops; i++)
		if ((loop_fd[i] = epoll_create1(0)) < 0)
			die("epoll_create1");
	struct epoll_event le = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(loop_fd[0], EPOLL_CTL_ADD, listener, &le);
	pthread_t loops[MAX_LOOPS], tester;
	for (int i = 1; i < nloops; i++)
		pthread_create(&loops[i], NULL, event_loop, (void *)(long)i);
	if (selftest)
		pthread_create(&tester, NULL, self_test, NULL);
	event_loop((void *)0L);
	for (int i = 1; i < nloops; i++)
		pthread_join(loops[i], NULL);
	if (selftest) {
		pthread_join(tester, NULL);
		fwrite(transcript, 1, tlen, stdout);
	}
	printf("connections %d gets %ld hits %ld sets %ld deletes %ld errors %ld\n", closed_conns, kv_st_gets, kv_st_hits,
	       kv_st_sets, kv_st_deletes, kv_st_errors);
	return 0;
}
