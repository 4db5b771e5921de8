/*
 * The memcached text protocol of kvserver (get, set, delete, quit), its hash table and its locks,
 * shared by two front ends: kvserver.c (sockets and one epoll loop per thread, for Linux) and
 * plugins/ix-dataplane/programs/kvserver-ix.c (libix's ixev events, for the IX dataplane). A front
 * end owns the connections and the I/O; this part turns received bytes into answers.
 *
 * The table is memcached 1.4's: a chained hash table of 2^16 buckets; a striped item lock chosen
 * by the key's hash around every lookup and change of a bucket, and the global cache_lock around
 * linking and unlinking items (set, delete), so writes contend and reads do not.
 */
#ifndef KV_PROTOCOL_H
#define KV_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define KEY_MAX 250              /* memcached's KEY_MAX_LENGTH */
#define LINE_MAX_BYTES 2048      /* a command line longer than this without "\n" is refused */
#define VALUE_MAX (1024 * 1024)  /* memcached's default item size limit */

struct item;

/* What the protocol keeps per connection: received bytes not yet worked through, answers not yet sent. */
struct kv_conn {
	char *rbuf;
	size_t rlen, rcap;
	char *wbuf;
	size_t wpos, wlen, wcap;
	/* A set waiting for its data block: its item, and how much of the block (value + "\r\n") is needed. */
	struct item *pending;
	size_t need;
	int noreply;
	int swallow; /* bytes of a refused set's data block still to skip */
	int closing; /* quit, or a line too long: close once the answers are out */
};

extern long kv_st_gets, kv_st_hits, kv_st_sets, kv_st_deletes, kv_st_errors;

/* Memory and fatal errors come from the front end: libc's malloc on Linux, a ring-3 heap of its own on IX. */
void *kv_alloc(size_t n);
void *kv_realloc(void *p, size_t n);
void kv_free(void *p);
void kv_die(const char *what);

void kv_init(void);
/* Buffers of a new connection (2 KB each, grown on demand). */
void kv_conn_init(struct kv_conn *c);
/* Frees what the connection holds (a set's pending item included). */
void kv_conn_release(struct kv_conn *c);
/* Room in rbuf for 1 KB more, or for the whole data block of the set being read; returns the room. */
size_t kv_reserve(struct kv_conn *c);
/* Works through what has been read: data blocks of sets, then command lines. Answers go to wbuf. */
void kv_process(struct kv_conn *c);

#endif
