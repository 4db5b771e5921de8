/*
 * What memcached 1.4 does per request, written afresh for kvserver's two front ends: kvserver.c
 * (sockets, one epoll loop per thread, for Linux) and plugins/ix-dataplane/programs/kvserver-ix.c
 * (libix's ixev events, one elastic thread per core, for the IX dataplane). A front end owns the
 * sockets or flows and says how to read and send; this part is memcached's server:
 *
 *  - the connection state machine (new_cmd, waiting, read, parse_cmd, nread, swallow, write,
 *    mwrite, closing), driven by the front end whenever its connection can read or write;
 *  - the text protocol: the line cut into tokens, get (any number of keys), set, delete, quit;
 *  - items with memcached's header (LRU and hash links, access time, expiry, reference count,
 *    flags, slab class, CAS) and their " FLAGS BYTES\r\n" suffix kept next to the data, so that
 *    a GET's answer is iovecs into the item: "VALUE ", key, suffix + data + "\r\n", "END\r\n";
 *  - a slab allocator: size classes growing by 1.25 from 96 bytes up to 1 MB pages, chunks
 *    carved from pages as a class needs them, the LRU tail evicted when memory is spent;
 *  - a chained hash table of 2^16 buckets keyed by Bob Jenkins' lookup3 hash;
 *  - memcached 1.4.18's locks: a striped item lock by hash around every lookup and change, the
 *    global cache_lock around linking, unlinking and the LRU, slabs_lock in the allocator, the
 *    global stats lock, and per-thread statistics each under its own thread's lock.
 */
#ifndef KV_PROTOCOL_H
#define KV_PROTOCOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define KEY_MAX 250              /* memcached's KEY_MAX_LENGTH */
#define LINE_MAX_BYTES 2048      /* a command line longer than this without "\n" is refused */
#define ITEM_SIZE_MAX (1024 * 1024) /* memcached's default item size limit (-I 1m): header, key, suffix, data */
#define KV_MAX_THREADS 16
#define MAX_SLAB_CLASSES 64

struct item;

/* Per-class counters a thread keeps (memcached's slab_stats). */
struct kv_slab_stats {
	uint64_t set_cmds, get_hits, delete_hits;
};

/* A worker thread's statistics, under its own lock (memcached's thread_stats). */
struct kv_thread_stats {
	pthread_mutex_t mutex;
	uint64_t get_cmds, get_misses, delete_misses, errors, bytes_read, bytes_written, conns;
	struct kv_slab_stats slab_stats[MAX_SLAB_CLASSES];
};

/* One worker thread: the connections of one event loop or one elastic thread. */
struct kv_thread {
	struct kv_thread_stats stats;
};

/*
 * The front end's I/O for one connection. read: bytes read (> 0), 0 at the end of the stream,
 * KV_AGAIN when nothing is there now, KV_FAIL on an error. sendmsg: bytes taken from the
 * vector (> 0), KV_AGAIN when nothing fits now, KV_FAIL when the peer has gone.
 */
#define KV_AGAIN (-1)
#define KV_FAIL (-2)
struct kv_io {
	long (*read)(void *arg, void *buf, size_t len);
	long (*sendmsg)(void *arg, const struct iovec *iov, int iovcnt);
};

enum conn_states {
	conn_new_cmd, conn_waiting, conn_read, conn_parse_cmd, conn_nread, conn_swallow, conn_write, conn_mwrite, conn_closing,
};

/* What kv_drive leaves the front end to wait for. */
enum kv_wait { KV_WAIT_READ, KV_WAIT_WRITE, KV_WAIT_CLOSE };

struct kv_conn {
	enum conn_states state, write_and_go;
	const struct kv_io *io;
	void *io_arg;
	struct kv_thread *thread;
	/* Bytes read, not yet worked through: rbytes of them from rcurr on. */
	char *rbuf, *rcurr;
	size_t rsize, rbytes;
	/* A set waiting for its data: the item, where its data goes and how much is still to come. */
	struct item *item;
	char *ritem;
	size_t rlbytes;
	size_t sbytes; /* bytes of a refused set's data still to skip */
	int noreply;
	/* The answer: iovecs (iovcurr of them sent), the items they point into, a buffer for short answers. */
	struct iovec *iov;
	int iovsize, iovused, iovcurr;
	struct item **ilist;
	int isize, ileft;
	char *wbuf;
	size_t wsize;
};

/* Memory and fatal errors come from the front end: libc's malloc on Linux, a ring-3 heap of its own on IX. */
void *kv_alloc(size_t n);
void *kv_realloc(void *p, size_t n);
void kv_free(void *p);
void kv_die(const char *what);

/* The slab allocator's memory limit (memcached -m) in bytes; the hash table and locks. */
void kv_init(size_t mem_limit);
/* A worker thread joins (its statistics counted from now on). */
void kv_thread_init(struct kv_thread *t);
/* memcached's clock: seconds since the server started, set by the front end's timer. */
void kv_set_time(uint32_t seconds);

/* A new connection served by `t`, doing its I/O through `io` with `arg`; 0, or -1 without memory. */
int kv_conn_init(struct kv_conn *c, struct kv_thread *t, const struct kv_io *io, void *arg);
/* Frees what the connection holds (a set's pending item and the items of an unsent answer included). */
void kv_conn_release(struct kv_conn *c);
/* Runs the state machine until it must wait: for the connection to be readable, writable, or closed. */
enum kv_wait kv_drive(struct kv_conn *c);

/* Totals over every thread (memcached's threadlocal_stats_aggregate). */
struct kv_totals {
	uint64_t gets, hits, sets, deletes, errors;
};
void kv_stats_aggregate(struct kv_totals *out);

#endif
