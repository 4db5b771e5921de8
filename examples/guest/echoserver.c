/*
 * An epoll echo server in the manner of the MegaPipe / mTCP echo benchmark that IX Fig. 3 runs on
 * Linux: every byte a client sends comes back on the same connection. One event loop per thread
 * (one thread per core): the first thread accepts and hands each connection to the loops round
 * robin, each loop waits in its own epoll instance, reads what is there and writes it back.
 *
 *   echoserver PORT THREADS MSGSIZE CONNS [ROUNDS]
 *   echoserver -c ADDRESS PORT MSGSIZE ROUNDS
 *
 * PORT 0 lets the kernel pick (printed as "listening on port N" to stderr only, so stdout is the
 * same everywhere). The server exits once CONNS connections have come and gone (0: never). With
 * ROUNDS > 0 it is its own client too: CONNS client threads each connect to 127.0.0.1 and do
 * ROUNDS round trips of MSGSIZE bytes, checking every echo — a self-contained run that prints the
 * same natively and on the model. With -c it is a NetPIPE-style client only: one connection to
 * ADDRESS, ROUNDS round trips of MSGSIZE bytes one after another, each echo checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define MAX_LOOPS 16
#define MAX_EVENTS 64

static int listener;
static int nloops;
static int msgsize;
static int conns_wanted;
static int loop_fd[MAX_LOOPS];
static volatile int closed_conns;
static volatile long echoed_bytes;
static volatile int done;
static unsigned short port;

static void die(const char *what)
{
	fprintf(stderr, "echoserver: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Reads what a connection has and writes it back; 0 when the peer has gone. */
static int echo(int fd, char *buf, size_t cap)
{
	for (;;) {
		ssize_t n = read(fd, buf, cap);
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == EAGAIN ? 1 : 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EAGAIN)
					continue; /* the send buffer is full: a blocking-style retry keeps it simple */
				return 0;
			}
			off += w;
		}
		__atomic_add_fetch(&echoed_bytes, n, __ATOMIC_RELAXED);
		if ((size_t)n < cap)
			return 1;
	}
}

static void *event_loop(void *arg)
{
	int id = (int)(long)arg;
	int ep = loop_fd[id];
	struct epoll_event ev[MAX_EVENTS];
	char *buf = malloc((size_t)msgsize * 4 + 4096);
	size_t cap = (size_t)msgsize * 4 + 4096;
	int next = 0;
	while (!done) {
		int n = epoll_wait(ep, ev, MAX_EVENTS, 100);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			if (fd == listener) {
				for (;;) {
					int c = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
					if (c < 0)
						break;
					int one = 1;
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					struct epoll_event ce = { .events = EPOLLIN, .data.fd = c };
					if (epoll_ctl(loop_fd[next], EPOLL_CTL_ADD, c, &ce) != 0)
						die("epoll_ctl");
					next = (next + 1) % nloops;
				}
				continue;
			}
			if (!echo(fd, buf, cap)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				int k = __atomic_add_fetch(&closed_conns, 1, __ATOMIC_SEQ_CST);
				if (conns_wanted > 0 && k >= conns_wanted)
					done = 1;
			}
		}
	}
	free(buf);
	return NULL;
}

static int rounds;

/* A self-test client: ROUNDS round trips of MSGSIZE bytes, each echo checked. */
static void *client(void *arg)
{
	int id = (int)(long)arg;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		die("client connect");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char *out = malloc((size_t)msgsize), *in = malloc((size_t)msgsize);
	long bad = 0;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < msgsize; i++)
			out[i] = (char)(id * 31 + r * 7 + i);
		if (write(fd, out, (size_t)msgsize) != msgsize)
			die("client write");
		for (int got = 0; got < msgsize;) {
			ssize_t n = read(fd, in + got, (size_t)(msgsize - got));
			if (n <= 0)
				die("client read");
			got += (int)n;
		}
		bad += memcmp(out, in, (size_t)msgsize) != 0;
	}
	close(fd);
	free(out);
	free(in);
	return (void *)bad;
}

/* -c ADDRESS PORT MSGSIZE ROUNDS: one connection, ping-pong. */
static int remote_client(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: echoserver -c ADDRESS PORT MSGSIZE ROUNDS\n");
		return 2;
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3])) };
	if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) {
		fprintf(stderr, "echoserver: bad address %s\n", argv[2]);
		return 2;
	}
	msgsize = atoi(argv[4]);
	rounds = atoi(argv[5]);
	if (msgsize < 1 || rounds < 1) {
		fprintf(stderr, "echoserver: bad arguments\n");
		return 2;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		die("connect");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char *out = malloc((size_t)msgsize), *in = malloc((size_t)msgsize);
	long bad = 0;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < msgsize; i++)
			out[i] = (char)(r * 7 + i);
		if (write(fd, out, (size_t)msgsize) != msgsize)
			die("write");
		for (int got = 0; got < msgsize;) {
			ssize_t n = read(fd, in + got, (size_t)(msgsize - got));
			if (n <= 0)
				die("read");
			got += (int)n;
		}
		bad += memcmp(out, in, (size_t)msgsize) != 0;
	}
	close(fd);
	printf("round trips %d bad echoes %ld\n", rounds, bad);
	return bad != 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-c") == 0)
		return remote_client(argc, argv);
	if (argc < 5) {
		fprintf(stderr, "usage: echoserver PORT THREADS MSGSIZE CONNS [ROUNDS]\n");
		return 2;
	}
	port = (unsigned short)atoi(argv[1]);
	nloops = atoi(argv[2]);
	msgsize = atoi(argv[3]);
	conns_wanted = atoi(argv[4]);
	rounds = argc > 5 ? atoi(argv[5]) : 0;
	if (nloops < 1 || nloops > MAX_LOOPS || msgsize < 1 || conns_wanted < 0 || rounds < 0) {
		fprintf(stderr, "echoserver: bad arguments\n");
		return 2;
	}
	/* Many connections at once need more descriptors than the default 1024, as any server
	   facing them raises its limit (the model's root may raise the hard limit too). */
	if (conns_wanted > 960) {
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		rlim_t want = (rlim_t)conns_wanted + 64;
		if (want > rl.rlim_cur) {
			rl.rlim_cur = want;
			if (want > rl.rlim_max)
				rl.rlim_max = want;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				die("setrlimit");
		}
	}
	listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	if (bind(listener, (struct sockaddr *)&a, sizeof a) != 0)
		die("bind");
	if (listen(listener, 1024) != 0)
		die("listen");
	socklen_t al = sizeof a;
	getsockname(listener, (struct sockaddr *)&a, &al);
	port = ntohs(a.sin_port);
	fprintf(stderr, "echoserver: listening on port %u\n", port);
	for (int i = 0; i < nloops; i++)
		if ((loop_fd[i] = epoll_create1(0)) < 0)
			die("epoll_create1");
	struct epoll_event le = { .events = EPOLLIN, .data.fd = listener };
	epoll_ctl(loop_fd[0], EPOLL_CTL_ADD, listener, &le);
	pthread_t loops[MAX_LOOPS];
	for (int i = 1; i < nloops; i++)
		pthread_create(&loops[i], NULL, event_loop, (void *)(long)i);
	pthread_t *clients = NULL;
	if (rounds > 0) {
		clients = calloc((size_t)conns_wanted, sizeof *clients);
		for (int i = 0; i < conns_wanted; i++)
			pthread_create(&clients[i], NULL, client, (void *)(long)i);
	}
	event_loop((void *)0L);
	for (int i = 1; i < nloops; i++)
		pthread_join(loops[i], NULL);
	long bad = 0;
	if (rounds > 0) {
		for (int i = 0; i < conns_wanted; i++) {
			void *r;
			pthread_join(clients[i], &r);
			bad += (long)r;
		}
	}
	printf("connections %d echoed %ld bytes", closed_conns, echoed_bytes);
	if (rounds > 0)
		printf(" round trips %ld bad echoes %ld", (long)conns_wanted * rounds, bad);
	printf("\n");
	return bad != 0;
}
