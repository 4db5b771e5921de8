/*
 * A key-value server that speaks memcached's text protocol (the subset the IX paper's mutilate
 * load uses: get, set, delete), doing per request what memcached 1.4.18 does (kv-protocol.c: the
 * connection state machine, the tokenizer, items in slabs, lookup3, the LRU and memcached's
 * locks). This file is memcached's front end on Linux: one event loop per thread (one thread per
 * core), each one epoll instance whose ready events go to callbacks, libevent-style; the first
 * thread also accepts and deals connections out round robin; answers go out with sendmsg, one
 * iovec per piece; a clock thread sets the server's time once a second (memcached's
 * clock_handler).
 *
 *   kvserver PORT THREADS CONNS [-t]
 *
 * kv-protocol.c is shared with the IX front end (plugins/ix-dataplane/programs/kvserver-ix.c).
 *
 * PORT 0 lets the kernel pick (printed to stderr only). The server exits once CONNS connections
 * have come and gone (0: never) and prints its counters. With -t it is also its own client: a
 * thread runs a scripted session over 127.0.0.1 (good and malformed commands, pipelined, a line
 * that is too long, a client that leaves mid-request) and its replies are printed, so the output
 * is the same natively and on the model; CONNS must then be 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>
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
/* The slab allocator's memory (memcached's default -m 64). */
#define MEM_LIMIT (64UL << 20)

static volatile int closed_conns;
static volatile int done;
static int conns_wanted;
static int nloops;
static int listener;
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

/*
 * libevent's part, reduced to what memcached uses of it: an event is a descriptor, what it waits
 * for and a callback; a loop is one epoll instance, and one epoll_wait hands every ready event to
 * its callback. event_update changes what is watched with one epoll_ctl, only when it changes.
 */
struct event {
	int fd;
	uint32_t events;
	void (*callback)(struct event *ev, uint32_t ready);
};

struct event_loop {
	int epfd;
	struct kv_thread kv; /* the worker's statistics */
};

static struct event_loop loops[MAX_LOOPS];

static void event_add(struct event_loop *l, struct event *ev)
{
	struct epoll_event ee = { .events = ev->events, .data.ptr = ev };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, ev->fd, &ee) != 0)
		die("epoll_ctl");
}

static void event_update(struct event_loop *l, struct event *ev, uint32_t events)
{
	if (ev->events == events)
		return;
	struct epoll_event ee = { .events = events, .data.ptr = ev };
	epoll_ctl(l->epfd, EPOLL_CTL_MOD, ev->fd, &ee);
	ev->events = events;
}

struct conn {
	struct event ev; /* first: the callback gets the connection */
	struct kv_conn kv;
	struct event_loop *loop;
};

static long sock_read(void *arg, void *buf, size_t len)
{
	ssize_t n = read(((struct conn *)arg)->ev.fd, buf, len);
	if (n >= 0)
		return (long)n;
	return errno == EAGAIN || errno == EINTR ? KV_AGAIN : KV_FAIL;
}

/* memcached's transmit: the answer's iovecs in one sendmsg. */
static long sock_sendmsg(void *arg, const struct iovec *iov, int iovcnt)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = iovcnt };
	ssize_t n = sendmsg(((struct conn *)arg)->ev.fd, &m, 0);
	if (n > 0)
		return (long)n;
	return n < 0 && (errno == EAGAIN || errno == EINTR) ? KV_AGAIN : KV_FAIL;
}

static const struct kv_io sock_io = { sock_read, sock_sendmsg };

static void conn_close(struct conn *c)
{
	epoll_ctl(c->loop->epfd, EPOLL_CTL_DEL, c->ev.fd, NULL);
	close(c->ev.fd);
	kv_conn_release(&c->kv);
	free(c);
	int k = __atomic_add_fetch(&closed_conns, 1, __ATOMIC_SEQ_CST);
	if (conns_wanted > 0 && k >= conns_wanted)
		done = 1;
}

/* memcached's event_handler: the state machine runs until it waits; then what epoll watches follows it. */
static void event_handler(struct event *ev, uint32_t ready)
{
	struct conn *c = (struct conn *)ev;
	(void)ready;
	switch (kv_drive(&c->kv)) {
	case KV_WAIT_READ:
		event_update(c->loop, ev, EPOLLIN);
		break;
	case KV_WAIT_WRITE:
		/* only EPOLLOUT while an answer waits: a level-triggered EPOLLIN not read would spin */
		event_update(c->loop, ev, EPOLLOUT);
		break;
	case KV_WAIT_CLOSE:
		conn_close(c);
		break;
	}
}

static int next_loop;

/* The listener's callback (on loop 0): new connections go to the loops in turn. */
static void accept_handler(struct event *ev, uint32_t ready)
{
	(void)ev, (void)ready;
	for (;;) {
		int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
		if (fd < 0)
			break;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct conn *c = calloc(1, sizeof *c);
		if (c == NULL)
			die("calloc");
		c->ev.fd = fd;
		c->ev.events = EPOLLIN;
		c->ev.callback = event_handler;
		c->loop = &loops[next_loop];
		if (kv_conn_init(&c->kv, &c->loop->kv, &sock_io, c) != 0)
			die("malloc");
		event_add(c->loop, &c->ev);
		next_loop = (next_loop + 1) % nloops;
	}
}

static void *event_loop(void *arg)
{
	struct event_loop *l = arg;
	struct epoll_event ev[MAX_EVENTS];
	while (!done) {
		int n = epoll_wait(l->epfd, ev, MAX_EVENTS, 100);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			struct event *e = ev[i].data.ptr;
			e->callback(e, ev[i].events);
		}
	}
	return NULL;
}

/* memcached's clock_handler: the server's time in seconds, set once a second. */
static void *clock_thread(void *arg)
{
	struct timespec start, now, second = { 1, 0 };
	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		nanosleep(&second, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		kv_set_time((uint32_t)(now.tv_sec - start.tv_sec));
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
		"get k1 a b c d e f g h k1\r\n" /* more keys than one pass of the tokenizer takes */
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
	kv_init(MEM_LIMIT);
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
	for (int i = 0; i < nloops; i++) {
		if ((loops[i].epfd = epoll_create1(0)) < 0)
			die("epoll_create1");
		kv_thread_init(&loops[i].kv);
	}
	static struct event listen_ev = { .events = EPOLLIN, .callback = accept_handler };
	listen_ev.fd = listener;
	event_add(&loops[0], &listen_ev);
	pthread_t threads[MAX_LOOPS], tester, clock;
	pthread_create(&clock, NULL, clock_thread, NULL);
	for (int i = 1; i < nloops; i++)
		pthread_create(&threads[i], NULL, event_loop, &loops[i]);
	if (selftest)
		pthread_create(&tester, NULL, self_test, NULL);
	event_loop(&loops[0]);
	for (int i = 1; i < nloops; i++)
		pthread_join(threads[i], NULL);
	if (selftest) {
		pthread_join(tester, NULL);
		fwrite(transcript, 1, tlen, stdout);
	}
	struct kv_totals t;
	kv_stats_aggregate(&t);
	printf("connections %d gets %llu hits %llu sets %llu deletes %llu errors %llu\n", closed_conns, (unsigned long long)t.gets,
	       (unsigned long long)t.hits, (unsigned long long)t.sets, (unsigned long long)t.deletes, (unsigned long long)t.errors);
	return 0;
}
