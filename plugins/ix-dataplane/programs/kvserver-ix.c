/*
 * kvserver on the IX dataplane: memcached's per-request work of examples/guest/kv-protocol.c
 * (the same source as the Linux kvserver) behind libix's ixev events instead of sockets and
 * epoll — what the IX paper did to memcached ("the port only switched to libix's event API",
 * §5.5). The application runs in guest ring 3: the connection state machine reads a request out
 * of the read-only mbufs with ixev_recv (which returns them with one recv_done per batch) and
 * hands each answer's iovecs to ixev_send.
 *
 *   kvserver-ix CONNS [BATCH [THREADS]]
 *
 * THREADS elastic threads (default 1), one per core, each pinned to its core, inside Dune on a
 * vCPU of its own: each serves the connections RSS steers to its queue, from its own slice of
 * the connection table, with its own statistics; the items, the hash table, the slabs and their
 * locks are shared, as memcached's worker threads share them. The port is the dataplane's (its
 * configuration). The server exits once CONNS connections have come and gone (0: never) and
 * prints the same counters as kvserver. `quit` or a line too long closes a connection once its
 * answers are acknowledged.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "libdune/dune.h"
#include "ix.h"
#include "examples/guest/kv-protocol.h"

#define MAX_CONNS 1024
/* The ring-3 heap of slab pages and connection buffers. */
#define HEAP_BYTES (96UL << 20)
/* The slab allocator's share of it (memcached -m). */
#define MEM_LIMIT (48UL << 20)
#define MIN_CLASS 6
#define MAX_CLASS 22

struct conn {
	struct ixev_ctx ctx;
	struct kv_conn kv;
	int used;
	int closing; /* the state machine has closed it: close once every answer is acknowledged */
	/* ixev_send's ring: answers stay here until acknowledged. */
	char tx[IXEV_SEND_BYTES];
};

static struct conn conns[MAX_CONNS];
static long conns_wanted, closed_conns;
static int nthreads = 1, batch_arg;
static struct kv_thread workers[IX_MAX_THREADS];
static __thread int me;

/*
 * Ring 3 has no brk or mmap of its own that would not leave Dune (a passed-through system call
 * is a VM exit), so kv's memory comes from a static heap: blocks of 2^k bytes with a 16-byte
 * header that names k, free lists per class, and a bump pointer for new blocks; slab pages
 * (never freed) are cut whole. One lock: the elastic threads share it, as threads share malloc.
 */
static char heap[HEAP_BYTES] __attribute__((aligned(64)));
static size_t heap_top;
static void *free_list[MAX_CLASS + 1];
static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;

struct block {
	uint64_t cls, pad;
};

void kv_die(const char *what)
{
	char line[96];
	int n = snprintf(line, sizeof line, "kvserver-ix: %s\n", what);
	ix_posix(SYS_write, 2, (long) line, n);
	ix_posix(SYS_exit, 1, 0, 0);
}

static void *bump(size_t n)
{
	if (heap_top + n > HEAP_BYTES)
		return NULL;
	void *p = heap + heap_top;
	heap_top += n;
	return p;
}

void *kv_alloc(size_t n)
{
	unsigned int k = MIN_CLASS;
	void *r = NULL;
	pthread_mutex_lock(&heap_lock);
	if (n == ITEM_SIZE_MAX) {
		/* a slab page: cut whole from the heap, 64-byte aligned, never given back */
		r = bump(n);
		pthread_mutex_unlock(&heap_lock);
		return r;
	}
	while (k <= MAX_CLASS && (1UL << k) < n + sizeof(struct block))
		k++;
	if (k <= MAX_CLASS) {
		struct block *b = free_list[k];
		if (b != NULL)
			free_list[k] = *(void **) (b + 1);
		else
			b = bump(1UL << k);
		if (b != NULL) {
			b->cls = k;
			r = b + 1;
		}
	}
	pthread_mutex_unlock(&heap_lock);
	return r;
}

void kv_free(void *p)
{
	if (p == NULL)
		return;
	struct block *b = (struct block *) p - 1;
	pthread_mutex_lock(&heap_lock);
	*(void **) p = free_list[b->cls];
	free_list[b->cls] = b;
	pthread_mutex_unlock(&heap_lock);
}

void *kv_realloc(void *p, size_t n)
{
	if (p == NULL)
		return kv_alloc(n);
	struct block *b = (struct block *) p - 1;
	size_t have = (1UL << b->cls) - sizeof(struct block);
	if (n <= have)
		return p;
	void *q = kv_alloc(n);
	if (q != NULL) {
		memcpy(q, p, have);
		kv_free(p);
	}
	return q;
}

/* read: out of the mbufs; 0 once the peer has gone and nothing is left. */
static long flow_read(void *arg, void *buf, size_t len)
{
	long n = ixev_recv(&((struct conn *) arg)->ctx, buf, len);
	if (n > 0 || n == 0)
		return n;
	return KV_AGAIN;
}

/* sendmsg: each iovec into ixev's send ring (kept there until acknowledged) while it has room. */
static long flow_sendmsg(void *arg, const struct iovec *iov, int iovcnt)
{
	struct ixev_ctx *ctx = &((struct conn *) arg)->ctx;
	long total = 0;
	for (int i = 0; i < iovcnt; i++) {
		long n = ixev_send(ctx, iov[i].iov_base, iov[i].iov_len);
		if (n == -RET_CLOSED)
			return total > 0 ? total : KV_FAIL;
		if (n <= 0)
			break;
		total += n;
		if ((size_t) n < iov[i].iov_len)
			break;
	}
	return total > 0 ? total : KV_AGAIN;
}

static const struct kv_io flow_io = { flow_read, flow_sendmsg };

static void handler(struct ixev_ctx *ctx, unsigned int reason)
{
	struct conn *c = (struct conn *) ctx;
	if (ctx->closing)
		return;
	if (!c->closing) {
		enum kv_wait w;
		/* Waiting to read while bytes are unread: ixev calls back only for new ones, so drive on. */
		while ((w = kv_drive(&c->kv)) == KV_WAIT_READ && ctx->rx_head != ctx->rx_tail)
			;
		if (w == KV_WAIT_CLOSE)
			c->closing = 1;
	}
	if (reason & IXEVHUP) {
		/* The peer closed or reset: like memcached on a read of 0, the connection ends. */
		ixev_close(ctx);
		return;
	}
	/* quit, or a line too long: close once every answer is acknowledged (a close drops unsent data). */
	if (c->closing && ctx->tx_acked == ctx->tx_len)
		ixev_close(ctx);
}

static struct ixev_ctx *accept_conn(uint64_t handle, uint32_t ip, uint16_t port)
{
	(void) handle, (void) ip, (void) port;
	int per = MAX_CONNS / nthreads;
	for (int i = me * per; i < (me + 1) * per; i++) {
		struct conn *c = &conns[i];
		if (!c->used) {
			ixev_ctx_init(&c->ctx);
			ixev_set_send_buffer(&c->ctx, c->tx);
			if (kv_conn_init(&c->kv, &workers[me], &flow_io, c) != 0)
				return NULL;
			c->used = 1;
			c->closing = 0;
			ixev_set_handler(&c->ctx, IXEVIN | IXEVOUT, handler);
			return &c->ctx;
		}
	}
	return NULL;
}

static void release(struct ixev_ctx *ctx)
{
	struct conn *c = (struct conn *) ctx;
	kv_conn_release(&c->kv);
	c->used = 0;
	__atomic_add_fetch(&closed_conns, 1, __ATOMIC_SEQ_CST);
}

static struct ixev_conn_ops ops = { .accept = accept_conn, .release = release };

/* A thread with nothing to do stays in the dataplane's loop; whichever sees the last connection end prints and exits. */
static void app(void)
{
	char out[200];
	while (conns_wanted == 0 || __atomic_load_n(&closed_conns, __ATOMIC_SEQ_CST) < conns_wanted)
		ixev_wait();
	struct kv_totals t;
	kv_stats_aggregate(&t);
	int n = snprintf(out, sizeof out, "connections %ld gets %llu hits %llu sets %llu deletes %llu errors %llu\n",
			 __atomic_load_n(&closed_conns, __ATOMIC_SEQ_CST), (unsigned long long) t.gets, (unsigned long long) t.hits,
			 (unsigned long long) t.sets, (unsigned long long) t.deletes, (unsigned long long) t.errors);
	ix_posix(SYS_write, 1, (long) out, n);
	ix_posix(SYS_exit, 0, 0, 0);
}

/* Thread i's index, set by ix_start before the thread becomes elastic. */
static void thread_init(int i)
{
	me = i;
}

int main(int argc, char **argv)
{
	char *end = "";

	if (argc < 2 || argc > 4) {
		dune_printf("usage: kvserver-ix CONNS [BATCH [THREADS]]\n");
		return 2;
	}
	conns_wanted = strtol(argv[1], &end, 10);
	if (*end == '\0' && argc > 2)
		batch_arg = (int) strtol(argv[2], &end, 10);
	if (*end == '\0' && argc > 3)
		nthreads = (int) strtol(argv[3], &end, 10);
	if (*end != '\0' || conns_wanted < 0 || batch_arg < 0 || batch_arg > 64 || nthreads < 1 || nthreads > IX_MAX_THREADS) {
		dune_printf("kvserver-ix: bad CONNS, BATCH or THREADS\n");
		return 2;
	}
	kv_init(MEM_LIMIT);
	for (int i = 0; i < nthreads; i++)
		kv_thread_init(&workers[i]);
	ixev_init(&ops);
	return ix_start("kvserver-ix", nthreads, batch_arg, app, thread_init);
}
