/*
 * A hostile IX application: from ring 3 it writes to an mbuf and reads a descriptor ring (page
 * faults, caught by a ring-0 handler), hands the dataplane batch arrays in its own memory, in
 * read-only memory, unmapped and too long, calls it cannot make (unknown numbers, bad handles,
 * scatter-gather lists and buffers in dataplane memory, too many entries, a recv_done beyond
 * what it received), with the argument `vmcall` asks for the set-up hypercall from ring 3,
 * with `hoard` receives on a connection without ever calling recv_done, with `deaf` accepts one
 * through ixev and never reads it (ixev closes it once its receive ring is full), with `stall N` accepts N
 * connections and then stays away from the dataplane for 3 ms (the RX ring fills, the NIC drops)
 * before it takes every byte they send
 * — and then, on the connection a client opens, echoes the first message
 * from the read-only mbuf it arrived in and closes. Each outcome is printed; the dataplane must
 * refuse every bad request and go on serving.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "libdune/dune.h"
#include "ix.h"

static char ustack[65536] __attribute__((aligned(16)));
static volatile uint64_t probe_addr;
static volatile int faults;

static void say(const char *s, long v)
{
	char out[128];
	int k = 0;
	while (*s && k < 100)
		out[k++] = *s++;
	out[k++] = ' ';
	if (v < 0) {
		out[k++] = '-';
		v = -v;
	}
	char t[24];
	int n = 0;
	do
		t[n++] = '0' + v % 10;
	while (v /= 10);
	while (n)
		out[k++] = t[--n];
	out[k++] = '\n';
	ix_posix(SYS_write, 1, (long) out, k);
}

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	(void) fec;
	faults++;
	dune_ret_from_user(addr == probe_addr && (tf->cs & 3) == 3 ? -14 : -99);
}

static void write_mbuf(void)
{
	*(volatile char *) probe_addr = 1;
	ix_posix(SYS_exit, 0, 0, 0);
}

static void read_ring(void)
{
	(void) *(volatile char *) probe_addr;
	ix_posix(SYS_exit, 0, 0, 0);
}

static uint64_t handle, addr, len, knocked, acked, dead;

/* What came back with a batch: the first knock, the first message, acknowledgements, the end. */
static void events(long n)
{
	for (long i = 0; i < n; i++) {
		const struct ix_event *e = &ix_events[i];
		if (e->type == USYS_TCP_KNOCK && !knocked) {
			knocked = 1;
			handle = e->handle;
		} else if (e->type == USYS_TCP_RECV && !len) {
			addr = e->arg0;
			len = e->arg1;
		} else if (e->type == USYS_TCP_SENT) {
			acked += e->arg0;
		} else if (e->type == USYS_TCP_DEAD) {
			dead = 1;
		}
	}
}

static long one(uint64_t nr, uint64_t a, uint64_t b, uint64_t c)
{
	ix_karr[0] = (struct bsys_desc) { nr, a, b, c, 0 };
	long n = ix_bpoll(ix_karr, 1);
	events(n);
	return (long) ix_karr[0].argb;
}

static struct sg_entry sg[31];

static void vmcall_from_ring3(void)
{
	long r;
	asm volatile("vmcall" : "=a"(r) : "a"(IX_VMCALL_SETUP), "D"(ix_region), "S"(0L) : "memory");
	say("set-up hypercall from ring 3 returned:", r);
	ix_posix(SYS_exit, 0, 0, 0);
}

/* Receives without ever calling recv_done until the peer goes away, then closes. */
static void hoard(void)
{
	long recvs = 0, bytes = 0;
	while (!knocked)
		events(ix_bpoll(ix_karr, 0));
	one(KSYS_TCP_ACCEPT, handle, 7, 0);
	while (!dead) {
		long n = ix_bpoll(ix_karr, 0);
		for (long i = 0; i < n; i++) {
			if (ix_events[i].type == USYS_TCP_RECV) {
				recvs++;
				bytes += (long) ix_events[i].arg1;
			}
		}
		events(n);
	}
	say("hoarded recv events:", recvs);
	say("hoarded bytes:", bytes);
	say("close:", one(KSYS_TCP_CLOSE, handle, 0, 0));
	ix_posix(SYS_exit, 0, 0, 0);
}

/*
 * With `deaf`: an ixev application that accepts one connection and never reads from it. Once
 * more segments wait than ixev's receive ring holds, ixev closes the connection and says so.
 */
static struct ixev_ctx deaf_ctx;
static volatile int deaf_released;

static void deaf_handler(struct ixev_ctx *ctx, unsigned int reason)
{
	if (reason & IXEVHUP) {
		say("deaf: hangup with unread segments:", (long) (ctx->rx_tail - ctx->rx_head));
		ixev_close(ctx);
	}
}

static struct ixev_ctx *deaf_accept(uint64_t h, uint32_t ip, uint16_t port)
{
	(void) h, (void) ip, (void) port;
	ixev_ctx_init(&deaf_ctx);
	ixev_set_handler(&deaf_ctx, IXEVIN, deaf_handler);
	return &deaf_ctx;
}

static void deaf_release(struct ixev_ctx *ctx)
{
	(void) ctx;
	deaf_released = 1;
}

static void deaf(void)
{
	static struct ixev_conn_ops ops = { .accept = deaf_accept, .release = deaf_release };
	ixev_init(&ops);
	while (!deaf_released)
		ixev_wait();
	say("deaf: released", 1);
	ix_posix(SYS_exit, 0, 0, 0);
}

static long stall_conns;

static void nap(long ns)
{
	struct { long sec, nsec; } ts = { 0, ns };
	ix_posix(SYS_nanosleep, (long) &ts, 0, 0);
}

/*
 * Accepts stall_conns connections, then sleeps 3 ms in Linux without a batch (the dataplane's
 * loop does not run: the RX ring fills behind the NIC), then receives everything, giving it back
 * with recv_done, until every peer has closed; between batches with no event it naps 0.5 ms.
 */
static void stall(void)
{
	long accepted = 0, closed = 0, bytes = 0;
	int stalled = 0;
	unsigned int nk = 0;
	while (closed < stall_conns) {
		long down = accepted; /* accepts that this batch takes down */
		long n = ix_bpoll(ix_karr, nk);
		nk = 0;
		for (long i = 0; i < n; i++) {
			const struct ix_event *e = &ix_events[i];
			if (e->type == USYS_TCP_KNOCK) {
				ix_karr[nk++] = (struct bsys_desc) { KSYS_TCP_ACCEPT, e->handle, 1, 0, 0 };
				accepted++;
			} else if (e->type == USYS_TCP_RECV) {
				bytes += (long) e->arg1;
				ix_karr[nk++] = (struct bsys_desc) { KSYS_TCP_RECV_DONE, e->handle, e->arg1, 0, 0 };
			} else if (e->type == USYS_TCP_DEAD) {
				ix_karr[nk++] = (struct bsys_desc) { KSYS_TCP_CLOSE, e->handle, 0, 0, 0 };
				closed++;
			}
		}
		if (!stalled && down == stall_conns) {
			say("accepted:", down);
			nap(3000000);
			stalled = 1;
		} else if (n == 0 && stalled) {
			nap(500000);
		}
	}
	ix_bpoll(ix_karr, nk);
	say("bytes received:", bytes);
	say("connections closed:", closed);
	ix_posix(SYS_exit, 0, 0, 0);
}

static void attacks(void)
{
	say("batch array in dataplane memory:", ix_bpoll((struct bsys_desc *) (ix_region + 0x1000), 1));
	say("batch array in the read-only event array:", ix_bpoll((struct bsys_desc *) (ix_region + IX_REGION_EVENTS), 1));
	say("batch array unmapped:", ix_bpoll((struct bsys_desc *) 0x10, 1));
	say("batch longer than allowed:", ix_bpoll(ix_karr, IX_BSYS_MAX + 1));
	say("batch of negative length:", ix_bpoll(ix_karr, (unsigned long) -1));
	say("unknown call:", one(77, 0, 0, 0));
	say("sendv on a bad handle:", one(KSYS_TCP_SENDV, 12345, (uint64_t) sg, 1));
	say("recv_done on a bad handle:", one(KSYS_TCP_RECV_DONE, 999, 10, 0));

	/* Wait for a connection and its first message. */
	while (!knocked)
		events(ix_bpoll(ix_karr, 0));
	say("accept:", one(KSYS_TCP_ACCEPT, handle, 7, 0));
	say("accept again:", one(KSYS_TCP_ACCEPT, handle, 7, 0));
	while (!len)
		events(ix_bpoll(ix_karr, 0));
	say("payload is in the mbuf region:", addr >= (uint64_t) ix_region + IX_REGION_MBUFS && addr < (uint64_t) ix_region + IX_REGION_SIZE);
	say("sendv with the list in dataplane memory:", one(KSYS_TCP_SENDV, handle, (uint64_t) (ix_region + 0x1000), 1));
	sg[0].base = ix_region + IX_REGION_TXBUF;
	sg[0].len = 64;
	say("sendv of a buffer in dataplane memory:", one(KSYS_TCP_SENDV, handle, (uint64_t) sg, 1));
	sg[0].base = (void *) 0x7ffffffff000UL;
	say("sendv of an unmapped buffer:", one(KSYS_TCP_SENDV, handle, (uint64_t) sg, 1));
	say("sendv of 31 entries:", one(KSYS_TCP_SENDV, handle, (uint64_t) sg, 31));
	say("recv_done beyond what arrived:", one(KSYS_TCP_RECV_DONE, handle, len + 1, 0));
	/* The echo, zero-copy: the list points at the read-only mbuf the message arrived in. */
	sg[0].base = (const void *) addr;
	sg[0].len = len;
	say("sendv from the mbuf:", one(KSYS_TCP_SENDV, handle, (uint64_t) sg, 1));
	say("recv_done:", one(KSYS_TCP_RECV_DONE, handle, len, 0));
	/* Until the echo is acknowledged the buffer stays as it is; then close. */
	while (acked < len && !dead)
		events(ix_bpoll(ix_karr, 0));
	say("bytes acknowledged:", (long) acked);
	say("close:", one(KSYS_TCP_CLOSE, handle, 0, 0));
	say("close again:", one(KSYS_TCP_CLOSE, handle, 0, 0));
	ix_posix(SYS_exit, 0, 0, 0);
}

/*
 * Gives the region back while the NIC still owns a queue in it: munmap through the host (a
 * passed-through system call), then 3 ms asleep while a peer sends. The dataplane's queue must be
 * switched off by then, so that no frame is written into memory the process no longer has.
 */
static void unmap_region(void)
{
	say("munmap of the region:", ix_posix(SYS_munmap, (long) ix_region, IX_REGION_SIZE, 0));
	for (int i = 0; i < 6; i++)
		nap(500000);
	say("unmap: done", 0);
	ix_posix(SYS_exit, 0, 0, 0);
}

int main(int argc, char **argv)
{
	int ret = ix_init(0);
	if (ret) {
		dune_printf("hostile-ix: ix_init failed (%d)\n", ret);
		return 1;
	}
	dune_register_pgflt_handler(pgflt);
	if (argc > 1 && strcmp(argv[1], "vmcall") == 0)
		return ix_run(vmcall_from_ring3, ustack, sizeof(ustack));
	if (argc > 1 && strcmp(argv[1], "hoard") == 0)
		return ix_run(hoard, ustack, sizeof(ustack));
	if (argc > 1 && strcmp(argv[1], "deaf") == 0)
		return ix_run(deaf, ustack, sizeof(ustack));
	if (argc > 1 && strcmp(argv[1], "unmap") == 0)
		return ix_run(unmap_region, ustack, sizeof(ustack));
	if (argc > 2 && strcmp(argv[1], "stall") == 0) {
		stall_conns = atol(argv[2]);
		return ix_run(stall, ustack, sizeof(ustack));
	}
	probe_addr = (uint64_t) ix_region + IX_REGION_MBUFS + 4096;
	ret = ix_run(write_mbuf, ustack, sizeof(ustack));
	dune_printf("ring-3 write to an mbuf: %d\n", ret);
	probe_addr = (uint64_t) ix_region + 0x1000;
	ret = ix_run(read_ring, ustack, sizeof(ustack));
	dune_printf("ring-3 read of the RX ring: %d\n", ret);
	ret = ix_run(attacks, ustack, sizeof(ustack));
	dune_printf("attacks: %d, faults %d\n", ret, faults);
	return ret;
}
