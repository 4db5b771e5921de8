/*
 * The echo server of IX Fig. 3 over libix: every connection's messages of MSG_SIZE bytes are
 * echoed once whole (up to 8 KiB; larger messages, NetPIPE's, are echoed as they arrive). Usage: echo-ix [-m] MSG_SIZE CONNECTIONS [BATCH [THREADS]] (-m: echo from the received mbuf) — exits after
 * CONNECTIONS connections have ended, in all. With -c (echo-ix -c A.B.C.D PORT MSG_SIZE ROUNDS
 * [THREADS]) it is NetPIPE's ping-pong client: each thread dials, sends a message, waits for
 * its echo, ROUNDS times; the process exits when every thread is done.
 * The application runs in guest ring 3; each ixev_wait is one SYSCALL.
 *
 * THREADS elastic threads, one per core as the IX echo server runs, each pinned to its core,
 * inside Dune on a vCPU of its own, made elastic on that core one after the other. Each thread serves the connections that RSS gives
 * its queue from its own slice of the connection table; only the count of connections left and
 * the per-thread message counts are shared.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libdune/dune.h"
#include "ix.h"

/*
 * The connection table has a slot for each connection the run will serve (at least
 * MIN_CONNS, so that RSS may give one thread more than its share; at most MAX_CONNS open at a
 * time: a connection past a thread's share of the table is closed at once, with a message). A slot is the ixev context and, for messages echoed whole,
 * room to gather one that arrives split over segments: the echo itself is zero copy.
 */
#define MIN_CONNS 2048
#define MAX_CONNS 65536
/* Messages up to this size are echoed once whole (Fig. 3); larger ones (NetPIPE's) as they arrive. */
#define WHOLE_MAX 8192

struct conn {
	struct ixev_ctx ctx;
	size_t have, streamed;
	int used;
	/* The next free slot of its thread's share (-1: none). */
	long next_free;
	char buf[];
};

static char pattern[IXEV_SEND_BYTES];

/* The table (mmap'd at start, nslots slots of slot_bytes each). */
static char *conn_table;
static long nslots;
static size_t slot_bytes;
static size_t msg_size;
static long conns_left;
static int nthreads = 1, batch_arg;
static long messages_of[IX_MAX_THREADS];
static int threads_done;
static __thread int me, last_release, table_full;
/* Each thread's share of the table: slots freed (a LIFO list, as IX's mempool) and the first never used. */
static __thread long free_slot = -1, fresh_slot = -1;
/* The client's ring for ixev_send and its receive buffer, one per thread. */
static char client_tx[IX_MAX_THREADS][IXEV_SEND_BYTES];
static char client_rx[IX_MAX_THREADS][WHOLE_MAX];

static struct conn *slot(long i)
{
	return (struct conn *) (conn_table + (size_t) i * slot_bytes);
}

/* Room in ixev's send ring: bytes sent stay there until acknowledged. */
static size_t room(const struct ixev_ctx *ctx)
{
	return IXEV_SEND_BYTES - (size_t) (ctx->tx_len - ctx->tx_acked);
}

/*
 * The echo sends without a copy of its own (IX §4.3): by default, as IX's echo server, each
 * message is read (copied) into the slot's buffer, which gives its mbuf back at once, and sent
 * from there; the buffer is read into again once that echo is acknowledged. With -m a message
 * that lies whole in one received mbuf is sent back from the mbuf itself, which goes back to the
 * dataplane (recv_done) only when the peer has acknowledged the echo (`sent`): no copy at all, but
 * a connection holds its mbuf until then — with clients that acknowledge an echo only with their
 * next message, one mbuf per connection, which a pool of 1,536 cannot give a thousands of
 * connections. Messages larger than WHOLE_MAX stream back as they arrive, each segment from its
 * mbuf. While IXEV_ZC_DEPTH echoes wait for acknowledgement the handler reads no further (the
 * data stays in the mbufs, and TCP's window holds the sender back) and asks for IXEVOUT, which
 * `sent` brings.
 */
static int from_mbuf;

static void handler(struct ixev_ctx *ctx, unsigned int reason)
{
	struct conn *c = (struct conn *) ctx;
	if (reason & IXEVOUT)
		ixev_set_handler(ctx, IXEVIN, handler);
	if (reason & (IXEVIN | IXEVOUT)) {
		for (;;) {
			const void *p;
			size_t n;
			if (ixev_zc_pending(ctx) == IXEV_ZC_DEPTH) {
				ixev_set_handler(ctx, IXEVIN | IXEVOUT, handler);
				break;
			}
			if (msg_size > WHOLE_MAX) {
				p = ixev_recv_zc(ctx, 1, WHOLE_MAX, &n);
				if (p == NULL)
					break;
				ixev_send_zc(ctx, p, n, n);
				for (c->streamed += n; c->streamed >= msg_size; c->streamed -= msg_size)
					__atomic_fetch_add(&messages_of[me], 1, __ATOMIC_RELAXED);
				continue;
			}
			if (from_mbuf && c->have == 0 && (p = ixev_recv_zc(ctx, msg_size, msg_size, &n)) != NULL) {
				ixev_send_zc(ctx, p, msg_size, msg_size);
				__atomic_fetch_add(&messages_of[me], 1, __ATOMIC_RELAXED);
				continue;
			}
			/* Split: the buffer is free once the echo sent from it is acknowledged. */
			if (ixev_zc_pending(ctx) > 0) {
				ixev_set_handler(ctx, IXEVIN | IXEVOUT, handler);
				break;
			}
			long got = ixev_recv(ctx, c->buf + c->have, msg_size - c->have);
			if (got <= 0)
				break;
			c->have += (size_t) got;
			if (c->have == msg_size) {
				ixev_send_zc(ctx, c->buf, msg_size, 0);
				c->have = 0;
				__atomic_fetch_add(&messages_of[me], 1, __ATOMIC_RELAXED);
			}
		}
	}
	if (reason & IXEVHUP)
		ixev_close(ctx);
}

static struct ixev_ctx *accept_conn(uint64_t handle, uint32_t ip, uint16_t port)
{
	(void) handle, (void) ip, (void) port;
	long per = nslots / nthreads;
	long i = -1;
	if (fresh_slot < 0)
		fresh_slot = me * per;
	if (free_slot >= 0) {
		i = free_slot;
		free_slot = slot(i)->next_free;
	} else if (fresh_slot < (me + 1) * per) {
		i = fresh_slot++;
	}
	if (i >= 0) {
		struct conn *c = slot(i);
		c->used = 1;
		c->have = c->streamed = 0;
		ixev_ctx_init(&c->ctx);
		ixev_set_handler(&c->ctx, IXEVIN, handler);
		return &c->ctx;
	}
	if (!table_full) {
		static const char msg[] = "echo-ix: connection table full: a connection was refused\n";
		table_full = 1;
		ix_posix(SYS_write, 2, (long) msg, sizeof(msg) - 1);
	}
	return NULL;
}

static void release(struct ixev_ctx *ctx)
{
	struct conn *c = (struct conn *) ctx;
	c->used = 0;
	c->next_free = free_slot;
	free_slot = (long) (((char *) c - conn_table) / (long) slot_bytes);
	if (__atomic_sub_fetch(&conns_left, 1, __ATOMIC_SEQ_CST) == 0)
		last_release = 1;
}

static long rounds;
static __thread long rounds_left, client_got, to_send;
static __thread int client_done;
static int client_failed;

static void client_handler(struct ixev_ctx *ctx, unsigned int reason);

/* The client's message goes down as the send ring has room (NetPIPE's may be larger than the ring). */
static void push(struct ixev_ctx *ctx)
{
	while (to_send > 0) {
		size_t n = room(ctx);
		if (n == 0)
			break;
		if (n > (size_t) to_send)
			n = (size_t) to_send;
		ixev_send(ctx, pattern, n);
		to_send -= (long) n;
	}
	/* IXEVOUT only while part of the message waits for room. */
	ixev_set_handler(ctx, to_send > 0 ? IXEVIN | IXEVOUT : IXEVIN, client_handler);
}

static void client_handler(struct ixev_ctx *ctx, unsigned int reason)
{
	struct conn *c = (struct conn *) ctx;
	if (reason & IXEVIN) {
		for (;;) {
			char *buf = client_rx[me];
			long n = ixev_recv(ctx, buf, WHOLE_MAX);
			if (n <= 0)
				break;
			(void) c;
			client_got += n;
			for (size_t k = 0; k < (size_t) n; k++)
				if (buf[k] != (char) 0x5a)
					client_done = -1;
		}
		while (client_got >= (long) msg_size) {
			client_got -= msg_size;
			__atomic_fetch_add(&messages_of[me], 1, __ATOMIC_RELAXED);
			if (--rounds_left > 0)
				to_send += (long) msg_size;
			else if (client_done == 0)
				client_done = 1;
		}
	}
	push(ctx);
	if (reason & IXEVHUP)
		client_done = -1;
}

static void dialed(struct ixev_ctx *ctx, long ret)
{
	if (ret != 0) {
		client_done = -1;
		return;
	}
	to_send = (long) msg_size;
	push(ctx);
}

static struct ixev_conn_ops ops = { .accept = accept_conn, .release = release, .dialed = dialed };
static uint32_t dial_ip;
static uint16_t dial_port;

static void put_num(char *p, long v, int *k)
{
	char t[24];
	int n = 0;
	do
		t[n++] = '0' + v % 10;
	while (v /= 10);
	while (n)
		p[(*k)++] = t[--n];
}

/* The total of the threads' messages, and the exit (ring 3 → ring 0 → main or elastic_thread's exit). */
static void finish(const char *what, int failed)
{
	char out[96 + 24 * IX_MAX_THREADS];
	int k = (int) strlen(what);
	long total = 0;

	for (int t = 0; t < nthreads; t++)
		total += __atomic_load_n(&messages_of[t], __ATOMIC_SEQ_CST);
	memcpy(out, what, k);
	put_num(out, total, &k);
	if (nthreads > 1) {
		memcpy(out + k, " per thread", 11);
		k += 11;
		for (int t = 0; t < nthreads; t++) {
			out[k++] = ' ';
			put_num(out, messages_of[t], &k);
		}
	}
	out[k++] = '\n';
	ix_posix(SYS_write, 1, (long) out, k);
	ix_posix(SYS_exit, failed, 0, 0);
}

/*
 * A thread with nothing to do stays in the dataplane's loop (bpoll returns only with events),
 * so no thread waits for another: whichever thread ends the last connection (or finishes the
 * last client) prints the total and ends the process; the others are still polling.
 */
static void app(void)
{
	if (dial_ip) {
		struct conn *c = slot(me);
		rounds_left = rounds;
		c->used = 1;
		ixev_ctx_init(&c->ctx);
		ixev_set_send_buffer(&c->ctx, client_tx[me]);
		ixev_set_handler(&c->ctx, IXEVIN, client_handler);
		ixev_dial(&c->ctx, dial_ip, dial_port);
		while (client_done == 0)
			ixev_wait();
		if (client_done < 0)
			__atomic_store_n(&client_failed, 1, __ATOMIC_SEQ_CST);
		if (__atomic_add_fetch(&threads_done, 1, __ATOMIC_SEQ_CST) == nthreads) {
			int failed = __atomic_load_n(&client_failed, __ATOMIC_SEQ_CST);
			finish(failed ? "echo-ix: FAILED after " : "echo-ix: round trips ", failed);
		}
		for (;;)
			ixev_wait();
	}
	for (;;) {
		ixev_wait();
		if (last_release)
			finish("echo-ix: messages ", 0);
	}
}

/* Thread i's index, set by ix_start before the thread becomes elastic. */
static void thread_init(int i)
{
	me = i;
}

static int start(void)
{
	memset(pattern, 0x5a, sizeof(pattern));
	ixev_init(&ops);
	return ix_start("echo-ix", nthreads, batch_arg, app, thread_init);
}

static uint32_t parse_ip(const char *s)
{
	uint32_t ip = 0;
	for (int i = 0; i < 4; i++) {
		ip = ip << 8 | (uint32_t) strtoul(s, (char **) &s, 10);
		if (*s == '.')
			s++;
	}
	return ip;
}

int main(int argc, char **argv)
{
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "-c") == 0) {
		dial_ip = parse_ip(argv[2]);
		dial_port = (uint16_t) atoi(argv[3]);
		msg_size = strtoul(argv[4], NULL, 10);
		rounds = strtol(argv[5], NULL, 10);
		nthreads = argc == 7 ? atoi(argv[6]) : 1;
		if (msg_size == 0 || msg_size > (1UL << 24) || rounds <= 0 || !dial_ip || nthreads < 1 || nthreads > IX_MAX_THREADS) {
			dune_printf("echo-ix: bad client arguments\n");
			return 2;
		}
	} else {
		if (argc > 1 && strcmp(argv[1], "-m") == 0) {
			from_mbuf = 1;
			argv++;
			argc--;
		}
		if (argc < 3 || argc > 5) {
			dune_printf("usage: echo-ix [-m] MSG_SIZE CONNECTIONS [BATCH [THREADS]]\n");
			return 2;
		}
		msg_size = strtoul(argv[1], NULL, 10);
		conns_left = strtol(argv[2], NULL, 10);
		batch_arg = argc > 3 ? atoi(argv[3]) : 0;
		nthreads = argc > 4 ? atoi(argv[4]) : 1;
		if (msg_size == 0 || msg_size > (1UL << 24) || conns_left <= 0 || nthreads < 1 || nthreads > IX_MAX_THREADS) {
			dune_printf("echo-ix: bad MSG_SIZE, CONNECTIONS or THREADS\n");
			return 2;
		}
	}
	/* The table, in Linux mode before Dune: its pages are the process's like any other. */
	if (dial_ip) {
		nslots = nthreads;
		slot_bytes = sizeof(struct conn);
	} else {
		nslots = conns_left < MIN_CONNS ? MIN_CONNS : conns_left > MAX_CONNS ? MAX_CONNS : conns_left;
		slot_bytes = (sizeof(struct conn) + (msg_size <= WHOLE_MAX ? msg_size : 0) + 63) & ~63UL;
	}
	conn_table = mmap(NULL, (size_t) nslots * slot_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (conn_table == MAP_FAILED) {
		dune_printf("echo-ix: no memory for %ld connections\n", nslots);
		return 1;
	}
	return start();
}
