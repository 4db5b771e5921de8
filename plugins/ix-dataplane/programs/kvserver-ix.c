/*
 * kvserver on the IX dataplane: the memcached text protocol, hash table and locks of
 * examples/guest/kv-protocol.c (the same source as the Linux kvserver), behind libix's ixev
 * events instead of sockets and epoll — what the IX paper did to memcached ("the port only
 * switched to libix's event API", §5.5). The application runs in guest ring 3: it copies a
 * request out of the read-only mbufs with ixev_recv (which also returns them with one recv_done
 * per batch), answers into the connection's buffer, and hands the answers to ixev_send.
 *
 *   kvserver-ix CONNS [BATCH]
 *
 * The port is the dataplane's (its configuration). The server exits once CONNS connections have
 * come and gone (0: never) and prints the same counters as kvserver. As in memcached, a
 * connection whose answers the peer does not take is read no further until they are out
 * (conn_mwrite), and `quit` or a line too long closes it once its answers are acknowledged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "libdune/dune.h"
#include "ix.h"
#include "examples/guest/kv-protocol.h"

#define MAX_CONNS 1024
/* The ring-3 heap of items and connection buffers (memcached's slabs, in power-of-two classes). */
#define HEAP_BYTES (48UL << 20)
#define MIN_CLASS 6
#define MAX_CLASS 22

struct conn {
	struct ixev_ctx ctx;
	struct kv_conn kv;
	int used;
	/* ixev_send's ring: answers stay here until acknowledged. */
	char tx[IXEV_SEND_BYTES];
};

static struct conn conns[MAX_CONNS];
static long conns_wanted, closed_conns;
static char ustack[65536] __attribute__((aligned(16)));

/*
 * Ring 3 has no brk or mmap of its own that would not leave Dune (a passed-through system call
 * is a VM exit), so kv's memory comes from a static heap: blocks of 2^k bytes with a 16-byte
 * header that names k, free lists per class, and a bump pointer for new blocks.
 */
static char heap[HEAP_BYTES] __attribute__((aligned(64)));
static size_t heap_top;
static void *free_list[MAX_CLASS + 1];

struct block {
	uint64_t cls, pad;
};

void kv_die(const char *what)
{
	char line[96];
	int n = snprintf(line, sizeof line, "kvserver-ix: %s: out of memory\n", what);
	ix_posix(SYS_write, 2, (long) line, n);
	ix_posix(SYS_exit, 1, 0, 0);
}

void *kv_alloc(size_t n)
{
	unsigned int k = MIN_CLASS;
	while (k <= MAX_CLASS && (1UL << k) < n + sizeof(struct block))
		k++;
	if (k > MAX_CLASS)
		return NULL;
	struct block *b = free_list[k];
	if (b != NULL) {
		free_list[k] = *(void **) (b + 1);
	} else {
		if (heap_top + (1UL << k) > HEAP_BYTES)
			return NULL;
		b = (struct block *) (heap + heap_top);
		heap_top += 1UL << k;
	}
	b->cls = k;
	return b + 1;
}

void kv_free(void *p)
{
	if (p == NULL)
		return;
	struct block *b = (struct block *) p - 1;
	*(void **) p = free_list[b->cls];
	free_list[b->cls] = b;
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

/* Hands queued answers to ixev (which keeps them until acknowledged); what does not fit waits for `sent`. */
static void flush(struct conn *c)
{
	struct kv_conn *kv = &c->kv;
	while (kv->wpos < kv->wlen) {
		long n = ixev_send(&c->ctx, kv->wbuf + kv->wpos, kv->wlen - kv->wpos);
		if (n <= 0)
			break;
		kv->wpos += (size_t) n;
	}
	if (kv->wpos == kv->wlen)
		kv->wpos = kv->wlen = 0;
}

static void handler(struct ixev_ctx *ctx, unsigned int reason)
{
	struct conn *c = (struct conn *) ctx;
	struct kv_conn *kv = &c->kv;
	if (ctx->closing)
		return;
	flush(c);
	/* Read only while no answer waits (memcached's conn_mwrite), and not after quit. */
	while (kv->wlen == 0 && !kv->closing) {
		size_t room = kv_reserve(kv);
		long n = ixev_recv(ctx, kv->rbuf + kv->rlen, room);
		if (n <= 0)
			break;
		kv->rlen += (size_t) n;
		kv_process(kv);
		flush(c);
	}
	if (reason & IXEVHUP) {
		/* The peer closed or reset: like memcached on a read of 0, the connection ends. */
		ixev_close(ctx);
		return;
	}
	/* quit, or a line too long: close once every answer is acknowledged (a close drops unsent data). */
	if (kv->closing && kv->wlen == 0 && ctx->tx_acked == ctx->tx_len)
		ixev_close(ctx);
}

static struct ixev_ctx *accept_conn(uint64_t handle, uint32_t ip, uint16_t port)
{
	(void) handle, (void) ip, (void) port;
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &conns[i];
		if (!c->used) {
			c->used = 1;
			ixev_ctx_init(&c->ctx);
			ixev_set_send_buffer(&c->ctx, c->tx);
			kv_conn_init(&c->kv);
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
	closed_conns++;
}

static struct ixev_conn_ops ops = { .accept = accept_conn, .release = release };

static void app(void)
{
	char out[160];

	ixev_init(&ops);
	while (conns_wanted == 0 || closed_conns < conns_wanted)
		ixev_wait();
	int n = snprintf(out, sizeof out, "connections %ld gets %ld hits %ld sets %ld deletes %ld errors %ld\n", closed_conns,
			 kv_st_gets, kv_st_hits, kv_st_sets, kv_st_deletes, kv_st_errors);
	ix_posix(SYS_write, 1, (long) out, n);
	ix_posix(SYS_exit, 0, 0, 0);
}

int main(int argc, char **argv)
{
	char *end;
	if (argc < 2 || argc > 3) {
		dune_printf("usage: kvserver-ix CONNS [BATCH]\n");
		return 2;
	}
	conns_wanted = strtol(argv[1], &end, 10);
	long batch = argc > 2 ? strtol(argv[2], &end, 10) : 0;
	if (conns_wanted < 0 || batch < 0 || batch > 64 || *end != '\0') {
		dune_printf("kvserver-ix: bad CONNS or BATCH\n");
		return 2;
	}
	kv_init();
	int ret = ix_init((int) batch);
	if (ret) {
		dune_printf("kvserver-ix: ix_init failed (%d)\n", ret);
		return 1;
	}
	return ix_run(app, ustack, sizeof(ustack));
}
