/* ixev: the event layer of libix, in ring 3 (upstream's libix/ixev.c, reduced). */
#include <string.h>

#include "ix.h"

/* The handlers are the process's; the rest is each elastic thread's own (no sharing between cores). */
static struct ixev_conn_ops conn_ops;
static __thread unsigned int nk;
static __thread struct ixev_ctx *dirty[IX_BSYS_MAX];
static __thread unsigned int ndirty;
static __thread struct ixev_ctx *released[IX_BSYS_MAX];
static __thread unsigned int nreleased;

static void put(uint64_t nr, uint64_t a, uint64_t b, uint64_t c)
{
	struct bsys_desc *d;
	if (nk == IX_BSYS_MAX)
		ixev_wait();
	d = &ix_karr[nk++];
	d->sysnr = nr;
	d->arga = a;
	d->argb = b;
	d->argc = c;
	d->argd = 0;
}

static void mark(struct ixev_ctx *ctx)
{
	if (!ctx->dirty && ndirty < IX_BSYS_MAX) {
		ctx->dirty = 1;
		dirty[ndirty++] = ctx;
	}
}

void ixev_init(struct ixev_conn_ops *ops)
{
	conn_ops = *ops;
}

void ixev_ctx_init(struct ixev_ctx *ctx)
{
	memset(ctx, 0, offsetof(struct ixev_ctx, rx_addr));
	ctx->rx_head = ctx->rx_tail = 0;
	ctx->rx_off = ctx->recv_done = 0;
	ctx->tx = NULL;
	ctx->tx_len = ctx->tx_issued = ctx->tx_acked = 0;
	ctx->zc_head = ctx->zc_tail = 0;
	ctx->zc_len = ctx->zc_issued = ctx->zc_acked = 0;
}

void ixev_set_send_buffer(struct ixev_ctx *ctx, char *ring)
{
	ctx->tx = ring;
}

unsigned int ixev_zc_pending(const struct ixev_ctx *ctx)
{
	return ctx->zc_tail - ctx->zc_head;
}

const void *ixev_recv_zc(struct ixev_ctx *ctx, size_t min, size_t max, size_t *len)
{
	if (ctx->rx_head == ctx->rx_tail || max == 0)
		return NULL;
	unsigned int i = ctx->rx_head % IXEV_RECV_DEPTH;
	uint64_t left = ctx->rx_len[i] - ctx->rx_off;
	size_t n = max < left ? max : left;
	if (n < min || n == 0)
		return NULL;
	const char *p = (const char *) ctx->rx_addr[i] + ctx->rx_off;
	ctx->rx_off += n;
	if (ctx->rx_off == ctx->rx_len[i]) {
		ctx->rx_head++;
		ctx->rx_off = 0;
	}
	*len = n;
	return p;
}

long ixev_send_zc(struct ixev_ctx *ctx, const void *buf, size_t len, size_t release)
{
	if (ctx->dead)
		return -RET_CLOSED;
	if (ctx->zc_tail - ctx->zc_head == IXEV_ZC_DEPTH || ctx->tx_acked < ctx->tx_len)
		return -RET_AGAIN;
	struct ixev_zc *z = &ctx->zc[ctx->zc_tail++ % IXEV_ZC_DEPTH];
	z->base = buf;
	z->len = len;
	ctx->zc_len += len;
	z->end = ctx->zc_len;
	z->release = release;
	mark(ctx);
	return (long) len;
}

/* The peer acknowledged `n` more zero-copy bytes: what whole sends covered goes back to the dataplane. */
static void zc_acked(struct ixev_ctx *ctx, uint64_t n)
{
	ctx->zc_acked += n;
	while (ctx->zc_head != ctx->zc_tail) {
		struct ixev_zc *z = &ctx->zc[ctx->zc_head % IXEV_ZC_DEPTH];
		if (z->end > ctx->zc_acked)
			break;
		ctx->recv_done += z->release;
		ctx->zc_head++;
	}
	if (ctx->recv_done > 0)
		mark(ctx);
}

void ixev_set_handler(struct ixev_ctx *ctx, unsigned int mask, ixev_handler_t h)
{
	ctx->en_mask = mask;
	ctx->handler = h;
}

/* Copies out of the read-only mbufs; the bytes go back to the dataplane with one recv_done per batch. */
long ixev_recv(struct ixev_ctx *ctx, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len && ctx->rx_head != ctx->rx_tail) {
		unsigned int i = ctx->rx_head % IXEV_RECV_DEPTH;
		uint64_t left = ctx->rx_len[i] - ctx->rx_off;
		size_t n = len - got < left ? len - got : left;
		memcpy((char *) buf + got, (const char *) ctx->rx_addr[i] + ctx->rx_off, n);
		got += n;
		ctx->rx_off += n;
		/* Bytes given back go in order: behind those a zero-copy send still holds, they wait for it. */
		if (ctx->zc_head != ctx->zc_tail)
			ctx->zc[(ctx->zc_tail - 1) % IXEV_ZC_DEPTH].release += n;
		else
			ctx->recv_done += n;
		if (ctx->rx_off == ctx->rx_len[i]) {
			ctx->rx_head++;
			ctx->rx_off = 0;
		}
	}
	if (got > 0)
		mark(ctx);
	return got > 0 ? (long) got : (ctx->dead ? 0 : -RET_AGAIN);
}

/* Keeps the bytes until they are acknowledged; one sendv per connection per batch. */
long ixev_send(struct ixev_ctx *ctx, const void *buf, size_t len)
{
	if (ctx->dead)
		return -RET_CLOSED;
	if (ctx->tx == NULL)
		return -RET_NOMEM;
	if (ctx->zc_head != ctx->zc_tail)
		return -RET_AGAIN;
	uint64_t room = IXEV_SEND_BYTES - (ctx->tx_len - ctx->tx_acked);
	if (len > room)
		len = room;
	if (len == 0)
		return -RET_AGAIN;
	size_t at = ctx->tx_len % IXEV_SEND_BYTES;
	size_t first = len < IXEV_SEND_BYTES - at ? len : IXEV_SEND_BYTES - at;
	memcpy(ctx->tx + at, buf, first);
	memcpy(ctx->tx, (const char *) buf + first, len - first);
	ctx->tx_len += len;
	mark(ctx);
	return (long) len;
}

void ixev_close(struct ixev_ctx *ctx)
{
	if (ctx->closing)
		return;
	ctx->closing = 1;
	if (ctx->recv_done > 0) {
		put(KSYS_TCP_RECV_DONE, ctx->handle, ctx->recv_done, 0);
		ctx->recv_done = 0;
	}
	put(KSYS_TCP_CLOSE, ctx->handle, 0, 0);
	if (nreleased < IX_BSYS_MAX)
		released[nreleased++] = ctx;
}

void ixev_dial(struct ixev_ctx *ctx, uint32_t ip, uint16_t port)
{
	put(KSYS_TCP_CONNECT, ip, port, (uint64_t) ctx);
}

static void flush_dirty(void)
{
	for (unsigned int k = 0; k < ndirty; k++) {
		struct ixev_ctx *ctx = dirty[k];
		ctx->dirty = 0;
		if (ctx->closing)
			continue;
		if (ctx->recv_done > 0) {
			put(KSYS_TCP_RECV_DONE, ctx->handle, ctx->recv_done, 0);
			ctx->recv_done = 0;
		}
		if (ctx->tx_issued < ctx->tx_len) {
			size_t at = ctx->tx_issued % IXEV_SEND_BYTES;
			uint64_t left = ctx->tx_len - ctx->tx_issued;
			uint64_t first = left < IXEV_SEND_BYTES - at ? left : IXEV_SEND_BYTES - at;
			ctx->sg[0].base = ctx->tx + at;
			ctx->sg[0].len = first;
			ctx->sg[1].base = ctx->tx;
			ctx->sg[1].len = left - first;
			put(KSYS_TCP_SENDV, ctx->handle, (uint64_t) ctx->sg, left > first ? 2 : 1);
		} else if (ctx->zc_issued < ctx->zc_len) {
			/* The sends not yet (wholly) taken by TCP, the first from where TCP stopped. */
			unsigned int n = 0;
			for (unsigned int k = ctx->zc_head; k != ctx->zc_tail; k++) {
				const struct ixev_zc *z = &ctx->zc[k % IXEV_ZC_DEPTH];
				if (z->end <= ctx->zc_issued)
					continue;
				uint64_t start = z->end - z->len;
				uint64_t off = ctx->zc_issued > start ? ctx->zc_issued - start : 0;
				ctx->sg[n].base = z->base + off;
				ctx->sg[n].len = z->len - off;
				n++;
			}
			put(KSYS_TCP_SENDV, ctx->handle, (uint64_t) ctx->sg, n);
		}
	}
	ndirty = 0;
}

void ixev_wait(void)
{
	long n;
	unsigned int calls, nrel;

	flush_dirty();
	calls = nk;
	nrel = nreleased;
	n = ix_bpoll(ix_karr, calls);
	nk = 0;
	if (n < 0)
		return;
	/* Returns: sendv says how many bytes TCP took. */
	for (unsigned int i = 0; i < calls; i++) {
		struct bsys_desc *d = &ix_karr[i];
		if (d->sysnr == KSYS_TCP_SENDV && (int64_t) d->argb > 0) {
			struct ixev_ctx *ctx = (struct ixev_ctx *) d->arga;
			/* A context sends one way at a time: zero-copy bytes while any are waiting, else its ring's. */
			if (ctx->zc_issued < ctx->zc_len)
				ctx->zc_issued += d->argb;
			else
				ctx->tx_issued += d->argb;
		}
		else if (d->sysnr == KSYS_TCP_CONNECT && (int64_t) d->argb >= 0)
			((struct ixev_ctx *) d->arga)->handle = d->argb;
	}
	/* Contexts closed before this batch went down have no events any more. */
	for (unsigned int i = 0; i < nrel; i++)
		if (conn_ops.release)
			conn_ops.release(released[i]);
	memmove(released, released + nrel, (nreleased - nrel) * sizeof(released[0]));
	nreleased -= nrel;
	for (long i = 0; i < n; i++) {
		const struct ix_event *e = &ix_events[i];
		struct ixev_ctx *ctx = (struct ixev_ctx *) e->cookie;
		switch (e->type) {
		case USYS_TCP_KNOCK:
			ctx = conn_ops.accept(e->handle, (uint32_t) e->arg0, (uint16_t) e->arg1);
			if (ctx) {
				ctx->handle = e->handle;
				put(KSYS_TCP_ACCEPT, e->handle, (uint64_t) ctx, 0);
			} else {
				put(KSYS_TCP_CLOSE, e->handle, 0, 0);
			}
			break;
		case USYS_TCP_CONNECTED:
			if (conn_ops.dialed)
				conn_ops.dialed(ctx, (long) e->arg0);
			break;
		case USYS_TCP_RECV:
			if (ctx->closing)
				break;
			if (ctx->rx_tail - ctx->rx_head == IXEV_RECV_DEPTH) {
				/*
				 * More segments wait unread than the ring holds (a peer sending many small
				 * ones to an application that does not read): the stream cannot go on
				 * without a hole in it, so the connection is closed — the dataplane takes
				 * back every mbuf it still holds for it — and the application is told, as
				 * for a dead connection, instead of losing these bytes unseen.
				 */
				ctx->dead = 1;
				ixev_close(ctx);
				if (ctx->handler)
					ctx->handler(ctx, IXEVHUP);
				break;
			}
			{
				unsigned int t = ctx->rx_tail++ % IXEV_RECV_DEPTH;
				ctx->rx_addr[t] = e->arg0;
				ctx->rx_len[t] = e->arg1;
			}
			if (ctx->handler && (ctx->en_mask & IXEVIN))
				ctx->handler(ctx, IXEVIN);
			break;
		case USYS_TCP_SENT:
			if (ctx->closing)
				break;
			if (ctx->zc_acked < ctx->zc_issued)
				zc_acked(ctx, e->arg0);
			else
				ctx->tx_acked += e->arg0;
			if (ctx->tx_issued < ctx->tx_len || ctx->zc_issued < ctx->zc_len)
				mark(ctx);
			if (ctx->handler && (ctx->en_mask & IXEVOUT))
				ctx->handler(ctx, IXEVOUT);
			break;
		case USYS_TCP_DEAD:
			if (ctx->closing)
				break;
			ctx->dead = 1;
			if (ctx->handler)
				ctx->handler(ctx, IXEVHUP | (ctx->rx_head != ctx->rx_tail ? IXEVIN : 0));
			break;
		}
	}
}
