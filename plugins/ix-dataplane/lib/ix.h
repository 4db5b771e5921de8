/*
 * libix: the IX dataplane's ABI for C programs (IX, OSDI'14, Table 1), over libDune. The
 * numbers and layouts agree with plugins/ix-dataplane/ix-abi.ts.
 *
 * ix_init() runs in guest ring 0 (after dune_init_and_enter): it prepares the elastic thread's
 * region, asks the control plane for the queue pair by a hypercall, and installs the SYSCALL
 * handler that sends IX calls to the dataplane. ix_run() starts the application in ring 3, where
 * ix_bpoll() is one SYSCALL per batch.
 *
 * Several cores: every elastic thread has its own region, queue pair, batched-call array and
 * event array, so the pointers below are per thread. The process calls dune_init once; each
 * thread, on its own core, calls dune_enter (a vCPU of its own) and then ix_init_thread before
 * its ix_run, one thread at a time (libDune's page-table updates are not thread-safe). Threads
 * are created before they enter Dune: libDune does not follow a clone made inside Dune.
 */
#ifndef IX_H
#define IX_H

#include <stddef.h>
#include <stdint.h>

#define IX_SYS_BPOLL      0x100000UL
#define IX_VMCALL_SETUP   0x200000UL

#define KSYS_TCP_CONNECT   3
#define KSYS_TCP_ACCEPT    4
#define KSYS_TCP_SENDV     7
#define KSYS_TCP_RECV_DONE 8
#define KSYS_TCP_CLOSE     9

#define USYS_TCP_CONNECTED 2
#define USYS_TCP_KNOCK     3
#define USYS_TCP_RECV      4
#define USYS_TCP_SENT      5
#define USYS_TCP_DEAD      6

#define RET_OK          0
#define RET_NOMEM       1
#define RET_NOBUFS      2
#define RET_INVAL       3
#define RET_AGAIN       4
#define RET_FAULT       5
#define RET_NOSYS       6
#define RET_BADH        8
#define RET_CLOSED      9
#define RET_CONNREFUSED 10

#define IX_REGION_SIZE    0x400000UL
#define IX_REGION_CALLS   0x10000UL
#define IX_REGION_EVENTS  0x20000UL
#define IX_REGION_TXBUF   0x40000UL
#define IX_REGION_MBUFS   0x100000UL
#define IX_BSYS_MAX       1024
#define MAX_SG_ENTRIES    30
/* Elastic threads one process may have (regions reserved in its image). */
#define IX_MAX_THREADS    8

struct bsys_desc {
	uint64_t sysnr, arga, argb, argc, argd;
};

struct ix_event {
	uint64_t type, handle, cookie, arg0, arg1;
};

struct sg_entry {
	const void *base;
	uint64_t len;
};

/* The region: calls (user read/write), events and mbufs (user read-only). */
extern __thread char *ix_region;
extern __thread struct bsys_desc *ix_karr;
extern __thread const struct ix_event *ix_events;

int ix_init(int batch);
/* Ring 0, in a thread that has entered Dune: make it an elastic thread (-EBUSY past the cores the control plane gave). */
int ix_init_thread(int batch);
int ix_run(void (*fn)(void), void *stack, size_t stack_size);
/*
 * An application's start-up, in Linux mode before anything entered Dune: `nthreads` elastic
 * threads (1..IX_MAX_THREADS), thread 0 the caller. Threads 1..n-1 are created first (a clone
 * made inside Dune would start the child in Linux mode, in the middle of libDune's system-call
 * path); each, pinned to its core, enters Dune on a vCPU of its own and becomes elastic, one at
 * a time (libDune's page-table updates are not thread-safe); none runs `app` in ring 3 before
 * every thread is elastic (flow groups are dealt again as each core joins). `thread_init(i)`
 * runs in thread i first (the application's per-thread state). ix_run's return ends the process
 * in the thread that ended the run; in thread 0 ix_start returns it. A start-up that fails is
 * reported on the console with `name` and returns 1.
 */
int ix_start(const char *name, int nthreads, int batch, void (*app)(void), void (*thread_init)(int));
/* Ring 3: one SYSCALL; returns the number of events, or -RET_FAULT / -RET_INVAL. */
long ix_bpoll(struct bsys_desc *descs, unsigned long n);
/* Ring 3: a system call passed through to Linux (a VM exit; not for the steady state). */
long ix_posix(long nr, long a0, long a1, long a2);

/* ixev: a libevent-like layer (upstream's libix/ixev.h, reduced). */
#define IXEVHUP 0x1
#define IXEVIN  0x2
#define IXEVOUT 0x4
#define IXEV_RECV_DEPTH 128
#define IXEV_SEND_BYTES 16384
/* Zero-copy sends a context may have waiting for their acknowledgement. */
#define IXEV_ZC_DEPTH   16

struct ixev_ctx;
typedef void (*ixev_handler_t)(struct ixev_ctx *ctx, unsigned int reason);

struct ixev_conn_ops {
	struct ixev_ctx *(*accept)(uint64_t handle, uint32_t ip, uint16_t port);
	void (*release)(struct ixev_ctx *ctx);
	void (*dialed)(struct ixev_ctx *ctx, long ret);
};

/* A zero-copy send: bytes of the application's (or of a received mbuf) that must not change until acknowledged. */
struct ixev_zc {
	const char *base;
	uint64_t len;
	/* Where it ends in the context's zero-copy byte stream, and the received bytes to give back (recv_done) once it is acknowledged. */
	uint64_t end, release;
};

struct ixev_ctx {
	uint64_t handle;
	void *user_data;
	ixev_handler_t handler;
	unsigned int en_mask;
	int dead, closing, dirty;
	/* Received, not yet read: (address, length) of read-only mbuf data. */
	uint64_t rx_addr[IXEV_RECV_DEPTH], rx_len[IXEV_RECV_DEPTH];
	unsigned int rx_head, rx_tail;
	uint64_t rx_off, recv_done;
	/*
	 * Copying sends (ixev_send): the bytes stay in the application's ring `tx` of IXEV_SEND_BYTES
	 * (ixev_set_send_buffer; none by default), unchanged, until the peer acknowledges them, with
	 * running byte counts of what was appended, handed to sendv, and acknowledged.
	 */
	char *tx;
	uint64_t tx_len, tx_issued, tx_acked;
	/* Zero-copy sends (ixev_send_zc), oldest first, with the same three running counts. */
	struct ixev_zc zc[IXEV_ZC_DEPTH];
	unsigned int zc_head, zc_tail;
	uint64_t zc_len, zc_issued, zc_acked;
	struct sg_entry sg[IXEV_ZC_DEPTH];
};

void ixev_init(struct ixev_conn_ops *ops);
void ixev_ctx_init(struct ixev_ctx *ctx);
void ixev_set_handler(struct ixev_ctx *ctx, unsigned int mask, ixev_handler_t h);
long ixev_recv(struct ixev_ctx *ctx, void *buf, size_t len);
long ixev_send(struct ixev_ctx *ctx, const void *buf, size_t len);
/* The ring ixev_send copies into (IXEV_SEND_BYTES, the application's memory); without one ixev_send fails with -RET_NOMEM. */
void ixev_set_send_buffer(struct ixev_ctx *ctx, char *ring);
/*
 * Zero copy. ixev_recv_zc takes up to `max` received bytes that lie in one mbuf — at least `min`,
 * else nothing — and returns where they are (read-only) and how many in *len, without giving them
 * back to the dataplane. ixev_send_zc sends `len` bytes from `buf` as they are (they must not
 * change until acknowledged) and, once the peer has acknowledged them, gives back `release`
 * received bytes: an echo sends straight from the mbuf and frees it after `sent`. Bytes taken with
 * ixev_recv_zc go back only through a send's `release`, in the order they were received, so they
 * must be sent before any ixev_recv. ixev_send_zc returns -RET_AGAIN when IXEV_ZC_DEPTH sends wait
 * (or copied bytes are unacknowledged: a context sends one way at a time).
 */
const void *ixev_recv_zc(struct ixev_ctx *ctx, size_t min, size_t max, size_t *len);
long ixev_send_zc(struct ixev_ctx *ctx, const void *buf, size_t len, size_t release);
/* Zero-copy sends not yet acknowledged. */
unsigned int ixev_zc_pending(const struct ixev_ctx *ctx);
void ixev_close(struct ixev_ctx *ctx);
void ixev_dial(struct ixev_ctx *ctx, uint32_t ip, uint16_t port);
/* One batch: the queued calls go down, the events come back and run the handlers. */
void ixev_wait(void);

#endif
