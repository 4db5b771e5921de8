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

#define MAX_LOOPS 16
#define MAX_EVENTS 64
#define KEY_MAX 250              /* memcached's KEY_MAX_LENGTH */
#define LINE_MAX_BYTES 2048      /* a command line longer than this without "\n" is refused */
#define VALUE_MAX (1024 * 1024)  /* memcached's default item size limit */
#define HASHPOWER 16
#define ITEM_LOCKS 4096          /* memcached 1.4.18: 2^13 on 4+ threads; a power of two below the buckets */

struct item {
	struct item *next;
	uint32_t hv;
	uint32_t flags;
	uint32_t nbytes;
	uint8_t nkey;
	char data[]; /* key, then value */
};

static struct item *buckets[1u << HASHPOWER];
static pthread_mutex_t item_locks[ITEM_LOCKS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static long st_gets, st_hits, st_sets, st_deletes, st_errors;
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

/* Bob Jenkins' one-at-a-time hash (memcached's jenkins_hash is his lookup3; both spread keys). */
static uint32_t hash(const char *k, size_t n)
{
	uint32_t h = 0;
	for (size_t i = 0; i < n; i++) {
		h += (uint8_t)k[i];
		h += h << 10;
		h ^= h >> 6;
	}
	h += h << 3;
	h ^= h >> 11;
	h += h << 15;
	return h;
}

static pthread_mutex_t *item_lock(uint32_t hv)
{
	return &item_locks[hv & (ITEM_LOCKS - 1)];
}

/* The slot that points at the key's item, or at the NULL that ends its chain. Under its item lock. */
static struct item **find(uint32_t hv, const char *key, size_t nkey)
{
	struct item **p = &buckets[hv & ((1u << HASHPOWER) - 1)];
	for (; *p != NULL; p = &(*p)->next)
		if ((*p)->hv == hv && (*p)->nkey == nkey && memcmp((*p)->data, key, nkey) == 0)
			break;
	return p;
}

struct conn {
	int fd;
	int loop;
	char *rbuf;
	size_t rlen, rcap;
	char *wbuf;
	size_t wpos, wlen, wcap;
	/* A set waiting for its data block: its item, and how much of the block (value + "\r\n") is needed. */
	struct item *pending;
	size_t need;
	int noreply;
	int swallow; /* bytes of a refused set's data block still to skip */
	int closing;
	uint32_t events; /* what epoll watches for now: EPOLLIN, or EPOLLOUT while answers wait */
};

static void out(struct conn *c, const char *s, size_t n)
{
	if (c->wlen + n > c->wcap) {
		size_t cap = c->wcap * 2;
		while (cap < c->wlen + n)
			cap *= 2;
		c->wbuf = realloc(c->wbuf, cap);
		if (c->wbuf == NULL)
			die("realloc");
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, s, n);
	c->wlen += n;
}

static void outs(struct conn *c, const char *s)
{
	out(c, s, strlen(s));
}

/* " N": a space and a decimal number (what snprintf would do, in a tenth of the instructions) */
static void out_u32(struct conn *c, uint32_t v)
{
	char b[12];
	int i = sizeof b;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	b[--i] = ' ';
	out(c, b + i, sizeof b - (size_t)i);
}

static void client_error(struct conn *c, const char *s)
{
	__atomic_add_fetch(&st_errors, 1, __ATOMIC_RELAXED);
	outs(c, s);
}

/* "get KEY...": every key's item, if there is one, then END. Keys are taken straight from the line. */
static void do_get(struct conn *c, char *keys)
{
	for (char *s = keys; *s != '\0';) {
		while (*s == ' ')
			s++;
		size_t nkey = strcspn(s, " ");
		if (nkey > KEY_MAX) {
			client_error(c, "CLIENT_ERROR bad command line format\r\n");
			return;
		}
		s += nkey;
	}
	for (char *key = keys; *key != '\0';) {
		while (*key == ' ')
			key++;
		size_t nkey = strcspn(key, " ");
		if (nkey == 0)
			break;
		uint32_t hv = hash(key, nkey);
		__atomic_add_fetch(&st_gets, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(item_lock(hv));
		struct item *it = *find(hv, key, nkey);
		if (it != NULL) {
			out(c, "VALUE ", 6);
			out(c, it->data, nkey);
			out_u32(c, it->flags);
			out_u32(c, it->nbytes);
			out(c, "\r\n", 2);
			out(c, it->data + it->nkey, it->nbytes);
			out(c, "\r\n", 2);
			__atomic_add_fetch(&st_hits, 1, __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(item_lock(hv));
		key += nkey;
	}
	outs(c, "END\r\n");
}

/* Replaces (or adds) an item: the item lock for the bucket, cache_lock for link and unlink. */
static void store(struct item *it)
{
	pthread_mutex_t *l = item_lock(it->hv);
	pthread_mutex_lock(l);
	pthread_mutex_lock(&cache_lock);
	struct item **p = find(it->hv, it->data, it->nkey);
	struct item *old = *p;
	it->next = old != NULL ? old->next : NULL;
	*p = it;
	pthread_mutex_unlock(&cache_lock);
	pthread_mutex_unlock(l);
	free(old);
}

static void do_delete(struct conn *c, char **tok, int ntok)
{
	/* "delete KEY [0] [noreply]": memcached still takes a zero hold time, nothing else */
	int noreply = ntok > 2 && strcmp(tok[ntok - 1], "noreply") == 0;
	int extra = ntok - 2 - noreply;
	if (extra > 1 || (extra == 1 && strcmp(tok[2], "0") != 0)) {
		client_error(c, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
		return;
	}
	size_t nkey = strlen(tok[1]);
	if (nkey > KEY_MAX) {
		client_error(c, "CLIENT_ERROR bad command line format\r\n");
		return;
	}
	uint32_t hv = hash(tok[1], nkey);
	__atomic_add_fetch(&st_deletes, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(item_lock(hv));
	pthread_mutex_lock(&cache_lock);
	struct item **p = find(hv, tok[1], nkey);
	struct item *old = *p;
	if (old != NULL)
		*p = old->next;
	pthread_mutex_unlock(&cache_lock);
	pthread_mutex_unlock(item_lock(hv));
	free(old);
	if (!noreply)
		outs(c, old != NULL ? "DELETED\r\n" : "NOT_FOUND\r\n");
}

/* A decimal number that is the whole token and fits in `max`. */
static int number(const char *s, unsigned long max, unsigned long *v)
{
	if (*s < '0' || *s > '9')
		return 0;
	char *end;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *v <= max;
}

static void do_set(struct conn *c, char **tok, int ntok)
{
	unsigned long flags, exptime, bytes;
	int noreply = ntok == 6 && strcmp(tok[5], "noreply") == 0;
	size_t nkey = ntok > 1 ? strlen(tok[1]) : 0;
	if ((ntok != 5 && !noreply) || nkey > KEY_MAX || !number(tok[2], UINT32_MAX, &flags) ||
	    !number(tok[3], INT32_MAX, &exptime) || !number(tok[4], INT32_MAX - 2, &bytes)) {
		client_error(c, "CLIENT_ERROR bad command line format\r\n");
		return;
	}
	if (bytes > VALUE_MAX) {
		/* memcached refuses it and skips the data block that follows */
		client_error(c, "SERVER_ERROR object too large for cache\r\n");
		c->swallow = (int)bytes + 2;
		return;
	}
	struct item *it = malloc(sizeof *it + nkey + bytes + 2);
	if (it == NULL) {
		client_error(c, "SERVER_ERROR out of memory storing object\r\n");
		c->swallow = (int)bytes + 2;
		return;
	}
	it->hv = hash(tok[1], nkey);
	it->flags = (uint32_t)flags;
	it->nbytes = (uint32_t)bytes;
	it->nkey = (uint8_t)nkey;
	memcpy(it->data, tok[1], nkey);
	c->pending = it;
	c->need = bytes + 2;
	c->noreply = noreply;
}

/* One command line, "\r\n" or "\n" already cut off. */
static void command(struct conn *c, char *line)
{
	char *tok[8];
	int ntok = 0;
	/* Like memcached, a get may name any number of keys: its line is not cut into tokens. */
	if (strncmp(line, "get ", 4) == 0 && line[4 + strspn(line + 4, " ")] != '\0') {
		do_get(c, line + 4);
		return;
	}
	for (char *s = line; ntok < 8;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		tok[ntok++] = s;
		while (*s != ' ' && *s != '\0')
			s++;
		if (*s == ' ')
			*s++ = '\0';
	}
	if (ntok == 8) {
		/* more words than any command but get takes */
		client_error(c, "CLIENT_ERROR bad command line format\r\n");
	} else if (ntok >= 5 && strcmp(tok[0], "set") == 0) {
		do_set(c, tok, ntok);
	} else if (ntok >= 2 && ntok <= 4 && strcmp(tok[0], "delete") == 0) {
		do_delete(c, tok, ntok);
	} else if (ntok == 1 && strcmp(tok[0], "quit") == 0) {
		c->closing = 1;
	} else {
		__atomic_add_fetch(&st_errors, 1, __ATOMIC_RELAXED);
		outs(c, "ERROR\r\n");
	}
}

/* Works through what has been read: data blocks of sets, then command lines. 0: close the connection. */
static int process(struct conn *c)
{
	size_t pos = 0;
	while (pos < c->rlen && !c->closing) {
		size_t avail = c->rlen - pos;
		if (c->swallow > 0) {
			size_t k = avail < (size_t)c->swallow ? avail : (size_t)c->swallow;
			c->swallow -= (int)k;
			pos += k;
			continue;
		}
		if (c->pending != NULL) {
			if (avail < c->need)
				break;
			struct item *it = c->pending;
			char *d = c->rbuf + pos;
			c->pending = NULL;
			pos += c->need;
			if (d[it->nbytes] != '\r' || d[it->nbytes + 1] != '\n') {
				free(it);
				client_error(c, "CLIENT_ERROR bad data chunk\r\n");
				continue;
			}
			memcpy(it->data + it->nkey, d, it->nbytes);
			__atomic_add_fetch(&st_sets, 1, __ATOMIC_RELAXED);
			store(it);
			if (!c->noreply)
				outs(c, "STORED\r\n");
			continue;
		}
		char *line = c->rbuf + pos;
		char *nl = memchr(line, '\n', avail);
		if (nl == NULL) {
			if (avail > LINE_MAX_BYTES) {
				client_error(c, "CLIENT_ERROR line too long\r\n");
				c->closing = 1;
				pos = c->rlen;
			}
			break;
		}
		pos += (size_t)(nl - line) + 1;
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (nl - line > LINE_MAX_BYTES) {
			client_error(c, "CLIENT_ERROR line too long\r\n");
			c->closing = 1;
			break;
		}
		command(c, line);
	}
	memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
	c->rlen -= pos;
	return 1;
}

/* Sends what is queued. 1: all sent; 0: the socket is full; -1: the peer has gone. */
static int flush(struct conn *c)
{
	while (c->wpos < c->wlen) {
		ssize_t w = write(c->fd, c->wbuf + c->wpos, c->wlen - c->wpos);
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
	free(c->pending);
	free(c->rbuf);
	free(c->wbuf);
	free(c);
	int k = __atomic_add_fetch(&closed_conns, 1, __ATOMIC_SEQ_CST);
	if (conns_wanted > 0 && k >= conns_wanted)
		done = 1;
}

/* Readable or writable: read what is there, answer every complete request, send the answers. */
static void serve(struct conn *c)
{
	int f = flush(c);
	if (f < 0 || (f == 1 && c->closing)) {
		conn_close(c);
		return;
	}
	/* Answers still queued: read no more until the client takes them (memcached's conn_mwrite). */
	if (f == 0)
		return;
	for (;;) {
		/* Room for 1 KB more, or for the whole data block of the set being read (it starts at 0). */
		size_t min = c->rlen + 1024;
		if (c->pending != NULL && c->need + 1024 > min)
			min = c->need + 1024;
		if (c->rcap < min) {
			size_t cap = c->rcap;
			while (cap < min)
				cap *= 2;
			c->rbuf = realloc(c->rbuf, cap);
			if (c->rbuf == NULL)
				die("realloc");
			c->rcap = cap;
		}
		size_t room = c->rcap - c->rlen;
		ssize_t n = read(c->fd, c->rbuf + c->rlen, room);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			conn_close(c);
			return;
		}
		if (n < 0)
			break;
		c->rlen += (size_t)n;
		process(c);
		if (c->closing)
			break;
		if ((size_t)n < room)
			break;
	}
	f = flush(c);
	if (f < 0 || (c->closing && f == 1)) {
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
				c->rcap = 2048;
				c->wcap = 2048;
				c->rbuf = malloc(c->rcap);
				c->wbuf = malloc(c->wcap);
				if (c->rbuf == NULL || c->wbuf == NULL)
					die("malloc");
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
	for (int i = 0; i < ITEM_LOCKS; i++)
		pthread_mutex_init(&item_locks[i], NULL);
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
	printf("connections %d gets %ld hits %ld sets %ld deletes %ld errors %ld\n", closed_conns, st_gets, st_hits, st_sets,
	       st_deletes, st_errors);
	return 0;
}
