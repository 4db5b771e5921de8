/* memcached's per-request work, shared by kvserver's two front ends: see kv-protocol.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv-protocol.h"

#define HASHPOWER 16
/* memcached 1.4.18 sizes its item locks by thread count (2^12 at four threads); below the buckets. */
#define ITEM_LOCKS 4096
/* memcached bumps an item in the LRU at most once a minute per item. */
#define ITEM_UPDATE_INTERVAL 60
#define SLAB_FACTOR 1.25
#define CHUNK_SIZE 48            /* memcached -n: key + value + flags, at least */
#define SLAB_PAGE ITEM_SIZE_MAX
#define DATA_BUFFER_SIZE 2048
#define READ_BUFFER_HIGHWAT 8192
#define IOV_LIST_INITIAL 400
#define ITEM_LIST_INITIAL 200
#define IOV_MAX_SEND 1024        /* iovecs per sendmsg (Linux's IOV_MAX) */
#define MAX_TOKENS 8
#define LRU_SEARCH_DEPTH 5       /* items tried at the LRU tail for one allocation */

#define ITEM_LINKED 1
#define ITEM_CAS 2
#define ITEM_SLABBED 4
#define ITEM_FETCHED 8

struct item {
	struct item *next, *prev; /* LRU of the slab class, or the class's free list */
	struct item *h_next;      /* hash chain */
	uint32_t time;            /* last access */
	uint32_t exptime;         /* 0: never */
	uint32_t nbytes;          /* data + "\r\n" */
	unsigned short refcount;
	uint8_t nsuffix;
	uint8_t it_flags;
	uint8_t slabs_clsid;
	uint8_t nkey;
	uint64_t cas;
	char data[];              /* key, '\0', " FLAGS BYTES\r\n", data, "\r\n" */
};

#define ITEM_key(it) ((it)->data)
#define ITEM_suffix(it) ((it)->data + (it)->nkey + 1)
#define ITEM_data(it) (ITEM_suffix(it) + (it)->nsuffix)
#define ITEM_ntotal(it) (sizeof(struct item) + (it)->nkey + 1 + (it)->nsuffix + (it)->nbytes)

struct slabclass {
	uint32_t size, perslab;
	struct item *slots; /* free chunks */
	uint32_t sl_curr;   /* how many */
	uint32_t slabs;     /* pages given to the class */
	char *end_page_ptr; /* the part of the newest page not yet carved (1.4's lazy split) */
	uint32_t end_page_free;
};

static struct slabclass slabclass[MAX_SLAB_CLASSES];
static int power_largest;
static size_t mem_limit, mem_malloced;
static pthread_mutex_t slabs_lock = PTHREAD_MUTEX_INITIALIZER;

static struct item *primary_hashtable[1u << HASHPOWER];
static pthread_mutex_t item_locks[ITEM_LOCKS];
/* memcached 1.4.18's global lock for the LRU and for linking and unlinking. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct item *heads[MAX_SLAB_CLASSES], *tails[MAX_SLAB_CLASSES];

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t curr_items, total_items, curr_bytes, evictions, curr_conns, total_conns;
} stats;
static uint64_t cas_id;

static struct kv_thread *threads[KV_MAX_THREADS];
static int nthreads;
/* Server time in seconds; it starts past ITEM_UPDATE_INTERVAL, as memcached's does, so that the
 * LRU bump's "older than a minute" needs no special case for the first minute. */
#define TIME_ORIGIN (ITEM_UPDATE_INTERVAL + 2)
static volatile uint32_t current_time = TIME_ORIGIN;

/* ---------------------------------------------------------------------------------------------
 * Bob Jenkins' lookup3 (hashlittle, initial value 0): what memcached's jenkins_hash computes. */

#define rot(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

static uint32_t jenkins_hash(const void *key, size_t length)
{
	const uint8_t *k = key;
	uint32_t a, b, c, w[3];
	a = b = c = 0xdeadbeef + (uint32_t)length;
	while (length > 12) {
		/* three little-endian words a time; x86 loads them unaligned */
		memcpy(w, k, 12);
		a += w[0];
		b += w[1];
		c += w[2];
		a -= c; a ^= rot(c, 4);  c += b;
		b -= a; b ^= rot(a, 6);  a += c;
		c -= b; c ^= rot(b, 8);  b += a;
		a -= c; a ^= rot(c, 16); c += b;
		b -= a; b ^= rot(a, 19); a += c;
		c -= b; c ^= rot(b, 4);  b += a;
		length -= 12;
		k += 12;
	}
	switch (length) {
	case 12: c += (uint32_t)k[11] << 24; /* fall through */
	case 11: c += (uint32_t)k[10] << 16; /* fall through */
	case 10: c += (uint32_t)k[9] << 8;   /* fall through */
	case 9:  c += k[8];                  /* fall through */
	case 8:  b += (uint32_t)k[7] << 24;  /* fall through */
	case 7:  b += (uint32_t)k[6] << 16;  /* fall through */
	case 6:  b += (uint32_t)k[5] << 8;   /* fall through */
	case 5:  b += k[4];                  /* fall through */
	case 4:  a += (uint32_t)k[3] << 24;  /* fall through */
	case 3:  a += (uint32_t)k[2] << 16;  /* fall through */
	case 2:  a += (uint32_t)k[1] << 8;   /* fall through */
	case 1:  a += k[0]; break;
	case 0:  return c;
	}
	c ^= b; c -= rot(b, 14);
	a ^= c; a -= rot(c, 11);
	b ^= a; b -= rot(a, 25);
	c ^= b; c -= rot(b, 16);
	a ^= c; a -= rot(c, 4);
	b ^= a; b -= rot(a, 14);
	c ^= b; c -= rot(b, 24);
	return c;
}

/* ---------------------------------------------------------------------------------------------
 * Locks and reference counts. */

static pthread_mutex_t *item_lock(uint32_t hv)
{
	pthread_mutex_t *l = &item_locks[hv & (ITEM_LOCKS - 1)];
	pthread_mutex_lock(l);
	return l;
}

static int item_trylock(uint32_t hv, pthread_mutex_t **held)
{
	pthread_mutex_t *l = &item_locks[hv & (ITEM_LOCKS - 1)];
	if (pthread_mutex_trylock(l) != 0)
		return 0;
	*held = l;
	return 1;
}

static unsigned short refcount_incr(unsigned short *r)
{
	return __atomic_add_fetch(r, 1, __ATOMIC_SEQ_CST);
}

static unsigned short refcount_decr(unsigned short *r)
{
	return __atomic_sub_fetch(r, 1, __ATOMIC_SEQ_CST);
}

/* ---------------------------------------------------------------------------------------------
 * The slab allocator. */

static void slabs_init(size_t limit)
{
	uint32_t size = sizeof(struct item) + CHUNK_SIZE;
	int i = 0;
	mem_limit = limit;
	while (++i < MAX_SLAB_CLASSES - 1 && size <= SLAB_PAGE / SLAB_FACTOR) {
		if (size % 8)
			size += 8 - size % 8;
		slabclass[i].size = size;
		slabclass[i].perslab = SLAB_PAGE / size;
		size = (uint32_t)(size * SLAB_FACTOR);
	}
	power_largest = i;
	slabclass[i].size = SLAB_PAGE;
	slabclass[i].perslab = 1;
}

/* The smallest class that holds `size` bytes; 0 when none does. */
static unsigned int slabs_clsid(size_t size)
{
	unsigned int res = 1;
	if (size == 0)
		return 0;
	while (size > slabclass[res].size)
		if (res++ == (unsigned int)power_largest)
			return 0;
	return res;
}

/* A new page for class `id`, within the memory limit (a class's first page always comes, as in memcached). */
static int do_slabs_newslab(unsigned int id)
{
	struct slabclass *p = &slabclass[id];
	size_t len = SLAB_PAGE; /* whole pages, so that a front end can cut them apart from its small blocks */
	if (mem_limit && mem_malloced + len > mem_limit && p->slabs > 0)
		return 0;
	char *page = kv_alloc(len);
	if (page == NULL)
		return 0;
	p->end_page_ptr = page;
	p->end_page_free = p->perslab;
	p->slabs++;
	mem_malloced += len;
	return 1;
}

static void *do_slabs_alloc(size_t size, unsigned int id)
{
	struct slabclass *p = &slabclass[id];
	struct item *it;
	if (p->sl_curr == 0 && p->end_page_free == 0 && !do_slabs_newslab(id))
		return NULL;
	if (p->sl_curr != 0) {
		it = p->slots;
		p->slots = it->next;
		if (it->next)
			it->next->prev = NULL;
		p->sl_curr--;
	} else {
		it = (struct item *)p->end_page_ptr;
		if (--p->end_page_free != 0)
			p->end_page_ptr += p->size;
		else
			p->end_page_ptr = NULL;
	}
	(void)size;
	return it;
}

static void *slabs_alloc(size_t size, unsigned int id)
{
	pthread_mutex_lock(&slabs_lock);
	void *r = do_slabs_alloc(size, id);
	pthread_mutex_unlock(&slabs_lock);
	return r;
}

static void slabs_free(struct item *it, unsigned int id)
{
	struct slabclass *p = &slabclass[id];
	pthread_mutex_lock(&slabs_lock);
	it->it_flags |= ITEM_SLABBED;
	it->prev = NULL;
	it->next = p->slots;
	if (it->next)
		it->next->prev = it;
	p->slots = it;
	p->sl_curr++;
	pthread_mutex_unlock(&slabs_lock);
}

/* ---------------------------------------------------------------------------------------------
 * The hash table (memcached's assoc). */

static struct item *assoc_find(const char *key, size_t nkey, uint32_t hv)
{
	struct item *it = primary_hashtable[hv & ((1u << HASHPOWER) - 1)];
	while (it != NULL) {
		if (nkey == it->nkey && memcmp(key, ITEM_key(it), nkey) == 0)
			return it;
		it = it->h_next;
	}
	return NULL;
}

static void assoc_insert(struct item *it, uint32_t hv)
{
	struct item **b = &primary_hashtable[hv & ((1u << HASHPOWER) - 1)];
	it->h_next = *b;
	*b = it;
}

static void assoc_delete(const char *key, size_t nkey, uint32_t hv)
{
	struct item **pos = &primary_hashtable[hv & ((1u << HASHPOWER) - 1)];
	while (*pos != NULL && (nkey != (*pos)->nkey || memcmp(key, ITEM_key(*pos), nkey) != 0))
		pos = &(*pos)->h_next;
	if (*pos != NULL) {
		struct item *nxt = (*pos)->h_next;
		(*pos)->h_next = NULL;
		*pos = nxt;
	}
}

/* ---------------------------------------------------------------------------------------------
 * Items: the LRU, linking, reference counts. */

static void item_link_q(struct item *it)
{
	struct item **head = &heads[it->slabs_clsid], **tail = &tails[it->slabs_clsid];
	it->prev = NULL;
	it->next = *head;
	if (it->next)
		it->next->prev = it;
	*head = it;
	if (*tail == NULL)
		*tail = it;
}

static void item_unlink_q(struct item *it)
{
	struct item **head = &heads[it->slabs_clsid], **tail = &tails[it->slabs_clsid];
	if (*head == it)
		*head = it->next;
	if (*tail == it)
		*tail = it->prev;
	if (it->next)
		it->next->prev = it->prev;
	if (it->prev)
		it->prev->next = it->next;
}

static void item_free(struct item *it)
{
	unsigned int clsid = it->slabs_clsid;
	it->slabs_clsid = 0;
	slabs_free(it, clsid);
}

static void do_item_remove(struct item *it)
{
	if (refcount_decr(&it->refcount) == 0)
		item_free(it);
}

static void item_remove(struct item *it)
{
	do_item_remove(it);
}

/* Under the item lock. */
static void do_item_link(struct item *it, uint32_t hv)
{
	pthread_mutex_lock(&cache_lock);
	it->it_flags |= ITEM_LINKED;
	it->time = current_time;
	pthread_mutex_lock(&stats_lock);
	stats.curr_bytes += ITEM_ntotal(it);
	stats.curr_items++;
	stats.total_items++;
	it->cas = ++cas_id;
	pthread_mutex_unlock(&stats_lock);
	assoc_insert(it, hv);
	item_link_q(it);
	refcount_incr(&it->refcount);
	pthread_mutex_unlock(&cache_lock);
}

static void do_item_unlink_nolock(struct item *it, uint32_t hv)
{
	if (it->it_flags & ITEM_LINKED) {
		it->it_flags &= ~ITEM_LINKED;
		pthread_mutex_lock(&stats_lock);
		stats.curr_bytes -= ITEM_ntotal(it);
		stats.curr_items--;
		pthread_mutex_unlock(&stats_lock);
		assoc_delete(ITEM_key(it), it->nkey, hv);
		item_unlink_q(it);
		do_item_remove(it);
	}
}

/* Under the item lock. */
static void do_item_unlink(struct item *it, uint32_t hv)
{
	pthread_mutex_lock(&cache_lock);
	do_item_unlink_nolock(it, hv);
	pthread_mutex_unlock(&cache_lock);
}

/* The key's item with a reference taken, or NULL (an expired item is unlinked on the way). Under the item lock. */
static struct item *do_item_get(const char *key, size_t nkey, uint32_t hv)
{
	struct item *it = assoc_find(key, nkey, hv);
	if (it == NULL)
		return NULL;
	refcount_incr(&it->refcount);
	if (it->exptime != 0 && it->exptime <= current_time) {
		do_item_unlink(it, hv);
		do_item_remove(it);
		return NULL;
	}
	it->it_flags |= ITEM_FETCHED;
	return it;
}

static struct item *item_get(const char *key, size_t nkey)
{
	uint32_t hv = jenkins_hash(key, nkey);
	pthread_mutex_t *l = item_lock(hv);
	struct item *it = do_item_get(key, nkey, hv);
	pthread_mutex_unlock(l);
	return it;
}

/* Moves a fetched item to the head of its LRU, at most once per ITEM_UPDATE_INTERVAL. */
static void item_update(struct item *it)
{
	uint32_t hv = jenkins_hash(ITEM_key(it), it->nkey);
	pthread_mutex_t *l = item_lock(hv);
	if (it->time < current_time - ITEM_UPDATE_INTERVAL) {
		pthread_mutex_lock(&cache_lock);
		if (it->it_flags & ITEM_LINKED) {
			item_unlink_q(it);
			it->time = current_time;
			item_link_q(it);
		}
		pthread_mutex_unlock(&cache_lock);
	}
	pthread_mutex_unlock(l);
}

static void item_unlink(struct item *it)
{
	uint32_t hv = jenkins_hash(ITEM_key(it), it->nkey);
	pthread_mutex_t *l = item_lock(hv);
	do_item_unlink(it, hv);
	pthread_mutex_unlock(l);
}

/* The suffix " FLAGS BYTES\r\n" and the item's whole size. */
static size_t item_make_header(size_t nkey, uint32_t flags, size_t nbytes, char *suffix, uint8_t *nsuffix)
{
	*nsuffix = (uint8_t)snprintf(suffix, 40, " %u %zu\r\n", flags, nbytes - 2);
	return sizeof(struct item) + nkey + 1 + *nsuffix + nbytes;
}

/*
 * An item of `nbytes` (data + "\r\n") with one reference, not linked. The LRU tail is looked at
 * first, a few items deep: an expired item there is reused, and when the class has no chunk left
 * the least recently used item that nobody holds is evicted.
 */
static struct item *item_alloc(const char *key, size_t nkey, uint32_t flags, uint32_t exptime, size_t nbytes, uint32_t cur_hv)
{
	char suffix[40];
	uint8_t nsuffix;
	size_t ntotal = item_make_header(nkey, flags, nbytes, suffix, &nsuffix);
	unsigned int id = slabs_clsid(ntotal);
	struct item *it = NULL, *search;
	int tried_alloc = 0, tries = LRU_SEARCH_DEPTH;
	if (id == 0)
		return NULL;
	pthread_mutex_lock(&cache_lock);
	for (search = tails[id]; tries > 0 && search != NULL; tries--, search = search->prev) {
		pthread_mutex_t *held = NULL;
		uint32_t hv = jenkins_hash(ITEM_key(search), search->nkey);
		/* Its item lock, if free: waiting for it here, under cache_lock, could deadlock. */
		if (hv == cur_hv || !item_trylock(hv, &held))
			continue;
		if (refcount_incr(&search->refcount) != 2) {
			/* someone holds it (an answer being sent) */
			refcount_decr(&search->refcount);
			pthread_mutex_unlock(held);
			continue;
		}
		if (search->exptime != 0 && search->exptime < current_time) {
			it = search;
			do_item_unlink_nolock(it, hv);
			it->slabs_clsid = 0;
		} else if ((it = slabs_alloc(ntotal, id)) == NULL) {
			tried_alloc = 1;
			it = search;
			pthread_mutex_lock(&stats_lock);
			stats.evictions++;
			pthread_mutex_unlock(&stats_lock);
			do_item_unlink_nolock(it, hv);
			it->slabs_clsid = 0;
		} else {
			tried_alloc = 1;
			refcount_decr(&search->refcount);
		}
		pthread_mutex_unlock(held);
		break;
	}
	if (!tried_alloc && it == NULL)
		it = slabs_alloc(ntotal, id);
	if (it == NULL) {
		pthread_mutex_unlock(&cache_lock);
		return NULL;
	}
	/* an item taken over from the LRU keeps the reference taken above: it becomes the new one's */
	it->refcount = 1;
	pthread_mutex_unlock(&cache_lock);
	it->next = it->prev = it->h_next = NULL;
	it->slabs_clsid = (uint8_t)id;
	it->it_flags = ITEM_CAS;
	it->nkey = (uint8_t)nkey;
	it->nbytes = (uint32_t)nbytes;
	memcpy(ITEM_key(it), key, nkey);
	ITEM_key(it)[nkey] = '\0';
	it->exptime = exptime;
	memcpy(ITEM_suffix(it), suffix, nsuffix);
	it->nsuffix = nsuffix;
	return it;
}

/* set: the new item replaces the old one, if any, under the key's item lock. */
static void store_item(struct item *it)
{
	uint32_t hv = jenkins_hash(ITEM_key(it), it->nkey);
	pthread_mutex_t *l = item_lock(hv);
	struct item *old = do_item_get(ITEM_key(it), it->nkey, hv);
	if (old != NULL) {
		do_item_unlink(old, hv);
		do_item_link(it, hv);
		do_item_remove(old);
	} else {
		do_item_link(it, hv);
	}
	pthread_mutex_unlock(l);
}

/* ---------------------------------------------------------------------------------------------
 * Answers: iovecs, and a buffer for the short ones. */

static int add_iov(struct kv_conn *c, const void *buf, size_t len)
{
	if (c->iovused == c->iovsize) {
		struct iovec *n = kv_realloc(c->iov, sizeof(*n) * (size_t)c->iovsize * 2);
		if (n == NULL)
			return -1;
		c->iov = n;
		c->iovsize *= 2;
	}
	c->iov[c->iovused].iov_base = (void *)buf;
	c->iov[c->iovused].iov_len = len;
	c->iovused++;
	return 0;
}

static void conn_release_items(struct kv_conn *c)
{
	if (c->item != NULL) {
		item_remove(c->item);
		c->item = NULL;
	}
	while (c->ileft > 0)
		item_remove(c->ilist[--c->ileft]);
}

static void thread_stat_error(struct kv_conn *c)
{
	pthread_mutex_lock(&c->thread->stats.mutex);
	c->thread->stats.errors++;
	pthread_mutex_unlock(&c->thread->stats.mutex);
}

/* A one-line answer, then `next` once it is sent; nothing with noreply. */
static void out_string(struct kv_conn *c, const char *str)
{
	size_t len;
	if (c->noreply) {
		c->noreply = 0;
		c->state = conn_new_cmd;
		return;
	}
	len = strlen(str);
	if (len + 2 > c->wsize) {
		/* never: every answer of ours fits */
		str = "SERVER_ERROR output line too long";
		len = strlen(str);
	}
	memcpy(c->wbuf, str, len);
	memcpy(c->wbuf + len, "\r\n", 2);
	c->iovused = c->iovcurr = 0;
	add_iov(c, c->wbuf, len + 2);
	c->state = conn_write;
	c->write_and_go = conn_new_cmd;
}

static void out_error(struct kv_conn *c, const char *str)
{
	thread_stat_error(c);
	out_string(c, str);
}

/* ---------------------------------------------------------------------------------------------
 * The text protocol. */

struct token {
	char *value;
	size_t length;
};

#define COMMAND_TOKEN 0
#define KEY_TOKEN 1

/*
 * Cuts the line at spaces into at most max_tokens - 1 words; when there are more, the last token
 * is the rest of the line (a get naming many keys takes it up again). A token with a NULL value
 * ends the list and is counted.
 */
static size_t tokenize_command(char *command, struct token *tokens, size_t max_tokens)
{
	char *s = command, *e = command;
	size_t ntokens = 0;
	size_t len = strlen(command);
	for (size_t i = 0; i < len; i++) {
		if (*e == ' ') {
			if (s != e) {
				tokens[ntokens].value = s;
				tokens[ntokens].length = (size_t)(e - s);
				ntokens++;
				*e = '\0';
				if (ntokens == max_tokens - 1) {
					e++;
					s = e;
					break;
				}
			}
			s = e + 1;
		}
		e++;
	}
	if (s != e) {
		tokens[ntokens].value = s;
		tokens[ntokens].length = (size_t)(e - s);
		ntokens++;
	}
	tokens[ntokens].value = *e == '\0' ? NULL : e;
	tokens[ntokens].length = 0;
	ntokens++;
	return ntokens;
}

static void set_noreply_maybe(struct kv_conn *c, struct token *tokens, size_t ntokens)
{
	size_t i = ntokens - 2;
	if (tokens[i].value != NULL && strcmp(tokens[i].value, "noreply") == 0)
		c->noreply = 1;
}

/* A decimal number that is the whole token (a sign allowed only for a signed one). */
static int safe_strtoul(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;
	errno = 0;
	if (*s == '-')
		return 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX)
		return 0;
	*out = (uint32_t)v;
	return 1;
}

static int safe_strtol(const char *s, int32_t *out)
{
	char *end;
	long long v;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > INT32_MAX || v < INT32_MIN)
		return 0;
	*out = (int32_t)v;
	return 1;
}

/* memcached's realtime(): an expiry in seconds from now (or an absolute time) as server time. */
static uint32_t realtime(int32_t exptime)
{
	if (exptime <= 0)
		return 0;
	if (exptime > 60 * 60 * 24 * 30)
		return 1; /* an absolute Unix time: this server's clock starts at 0, so long past */
	return (uint32_t)exptime + current_time;
}

static void process_get_command(struct kv_conn *c, struct token *tokens, size_t ntokens)
{
	struct token *key_token = &tokens[KEY_TOKEN];
	struct kv_thread_stats *ts = &c->thread->stats;
	int i = 0;
	do {
		while (key_token->length != 0) {
			char *key = key_token->value;
			size_t nkey = key_token->length;
			if (nkey > KEY_MAX) {
				/* the whole answer is refused: what was found so far is given back */
				while (i-- > 0)
					item_remove(c->ilist[i]);
				c->ileft = 0;
				out_error(c, "CLIENT_ERROR bad command line format");
				return;
			}
			struct item *it = item_get(key, nkey);
			if (it != NULL) {
				if (i >= c->isize) {
					struct item **n = kv_realloc(c->ilist, sizeof(*n) * (size_t)c->isize * 2);
					if (n == NULL) {
						item_remove(it);
						break;
					}
					c->ilist = n;
					c->isize *= 2;
				}
				if (add_iov(c, "VALUE ", 6) != 0 || add_iov(c, ITEM_key(it), it->nkey) != 0 ||
				    add_iov(c, ITEM_suffix(it), it->nsuffix + it->nbytes) != 0) {
					item_remove(it);
					break;
				}
				pthread_mutex_lock(&ts->mutex);
				ts->slab_stats[it->slabs_clsid].get_hits++;
				ts->get_cmds++;
				pthread_mutex_unlock(&ts->mutex);
				item_update(it);
				c->ilist[i++] = it;
				c->ileft = i;
			} else {
				pthread_mutex_lock(&ts->mutex);
				ts->get_misses++;
				ts->get_cmds++;
				pthread_mutex_unlock(&ts->mutex);
			}
			key_token++;
		}
		/* more keys than one pass of the tokenizer takes: the rest of the line, cut again */
		if (key_token->value != NULL) {
			ntokens = tokenize_command(key_token->value, tokens, MAX_TOKENS);
			key_token = tokens;
		}
	} while (key_token->value != NULL);
	c->ileft = i;
	if (add_iov(c, "END\r\n", 5) != 0) {
		out_string(c, "SERVER_ERROR out of memory writing get response");
		return;
	}
	c->state = conn_mwrite;
	c->write_and_go = conn_new_cmd;
	(void)ntokens;
}

static void process_update_command(struct kv_conn *c, struct token *tokens, size_t ntokens)
{
	uint32_t flags;
	int32_t exptime, vlen;
	set_noreply_maybe(c, tokens, ntokens);
	if (tokens[KEY_TOKEN].length > KEY_MAX) {
		out_error(c, "CLIENT_ERROR bad command line format");
		return;
	}
	char *key = tokens[KEY_TOKEN].value;
	size_t nkey = tokens[KEY_TOKEN].length;
	if (!(safe_strtoul(tokens[2].value, &flags) && safe_strtol(tokens[3].value, &exptime) && safe_strtol(tokens[4].value, &vlen))) {
		out_error(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (vlen < 0 || vlen > INT32_MAX - 2) {
		out_error(c, "CLIENT_ERROR bad command line format");
		return;
	}
	vlen += 2;
	struct item *it = item_alloc(key, nkey, flags, realtime(exptime), (size_t)vlen, 0);
	if (it == NULL) {
		char suffix[40];
		uint8_t ns;
		if (slabs_clsid(item_make_header(nkey, flags, (size_t)vlen, suffix, &ns)) == 0)
			out_error(c, "SERVER_ERROR object too large for cache");
		else
			out_error(c, "SERVER_ERROR out of memory storing object");
		c->write_and_go = conn_swallow;
		c->sbytes = (size_t)vlen;
		/* a set that fails leaves no stale value behind */
		struct item *old = item_get(key, nkey);
		if (old != NULL) {
			item_unlink(old);
			item_remove(old);
		}
		if (c->state != conn_write)
			c->state = conn_swallow; /* noreply: nothing to send first */
		return;
	}
	c->item = it;
	c->ritem = ITEM_data(it);
	c->rlbytes = it->nbytes;
	c->state = conn_nread;
}

static void process_delete_command(struct kv_conn *c, struct token *tokens, size_t ntokens)
{
	struct kv_thread_stats *ts = &c->thread->stats;
	if (ntokens > 3) {
		int hold_is_zero = strcmp(tokens[KEY_TOKEN + 1].value, "0") == 0;
		set_noreply_maybe(c, tokens, ntokens);
		int valid = (ntokens == 4 && (hold_is_zero || c->noreply)) || (ntokens == 5 && hold_is_zero && c->noreply);
		if (!valid) {
			c->noreply = 0;
			out_error(c, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
			return;
		}
	}
	char *key = tokens[KEY_TOKEN].value;
	size_t nkey = tokens[KEY_TOKEN].length;
	if (nkey > KEY_MAX) {
		out_error(c, "CLIENT_ERROR bad command line format");
		return;
	}
	struct item *it = item_get(key, nkey);
	if (it != NULL) {
		pthread_mutex_lock(&ts->mutex);
		ts->slab_stats[it->slabs_clsid].delete_hits++;
		pthread_mutex_unlock(&ts->mutex);
		item_unlink(it);
		item_remove(it);
		out_string(c, "DELETED");
	} else {
		pthread_mutex_lock(&ts->mutex);
		ts->delete_misses++;
		pthread_mutex_unlock(&ts->mutex);
		out_string(c, "NOT_FOUND");
	}
}

static void process_command(struct kv_conn *c, char *command)
{
	struct token tokens[MAX_TOKENS];
	size_t ntokens;
	c->iovused = c->iovcurr = 0;
	ntokens = tokenize_command(command, tokens, MAX_TOKENS);
	if (ntokens >= 3 && strcmp(tokens[COMMAND_TOKEN].value, "get") == 0) {
		process_get_command(c, tokens, ntokens);
	} else if ((ntokens == 6 || ntokens == 7) && strcmp(tokens[COMMAND_TOKEN].value, "set") == 0) {
		process_update_command(c, tokens, ntokens);
	} else if (ntokens >= 3 && ntokens <= 5 && strcmp(tokens[COMMAND_TOKEN].value, "delete") == 0) {
		process_delete_command(c, tokens, ntokens);
	} else if (ntokens == 2 && strcmp(tokens[COMMAND_TOKEN].value, "quit") == 0) {
		c->state = conn_closing;
	} else {
		out_error(c, "ERROR");
	}
}

/* A set's data has all come: it must end in "\r\n" to be stored. */
static void complete_nread(struct kv_conn *c)
{
	struct item *it = c->item;
	struct kv_thread_stats *ts = &c->thread->stats;
	if (memcmp(ITEM_data(it) + it->nbytes - 2, "\r\n", 2) != 0) {
		out_error(c, "CLIENT_ERROR bad data chunk");
	} else {
		pthread_mutex_lock(&ts->mutex);
		ts->slab_stats[it->slabs_clsid].set_cmds++;
		pthread_mutex_unlock(&ts->mutex);
		store_item(it);
		out_string(c, "STORED");
	}
	item_remove(c->item);
	c->item = NULL;
}

/* 1: a command was worked through; 0: no whole line yet. */
static int try_read_command(struct kv_conn *c)
{
	char *el, *cont;
	if (c->rbytes == 0)
		return 0;
	el = memchr(c->rcurr, '\n', c->rbytes);
	if (el == NULL) {
		if (c->rbytes > LINE_MAX_BYTES) {
			/* a line with no end: refused, the rest thrown away, the connection closed */
			c->rbytes = 0;
			out_error(c, "CLIENT_ERROR line too long");
			c->write_and_go = conn_closing;
			return 1;
		}
		return 0;
	}
	cont = el + 1;
	if (el - c->rcurr > LINE_MAX_BYTES) {
		c->rbytes = 0;
		out_error(c, "CLIENT_ERROR line too long");
		c->write_and_go = conn_closing;
		return 1;
	}
	if (el > c->rcurr && el[-1] == '\r')
		el--;
	*el = '\0';
	c->rbytes -= (size_t)(cont - c->rcurr);
	char *line = c->rcurr;
	c->rcurr = cont;
	process_command(c, line);
	return 1;
}

enum try_read_result { READ_DATA_RECEIVED, READ_NO_DATA_RECEIVED, READ_ERROR, READ_MEMORY_ERROR };

/* Reads what the socket has, growing the buffer (doubling, up to four times a call) while it fills. */
static enum try_read_result try_read_network(struct kv_conn *c)
{
	enum try_read_result gotdata = READ_NO_DATA_RECEIVED;
	int num_allocs = 0;
	if (c->rcurr != c->rbuf) {
		if (c->rbytes != 0)
			memmove(c->rbuf, c->rcurr, c->rbytes);
		c->rcurr = c->rbuf;
	}
	for (;;) {
		if (c->rbytes >= c->rsize) {
			if (num_allocs == 4)
				return gotdata;
			++num_allocs;
			char *n = kv_realloc(c->rbuf, c->rsize * 2);
			if (n == NULL)
				return READ_MEMORY_ERROR;
			c->rcurr = c->rbuf = n;
			c->rsize *= 2;
		}
		size_t avail = c->rsize - c->rbytes;
		long res = c->io->read(c->io_arg, c->rbuf + c->rbytes, avail);
		if (res > 0) {
			pthread_mutex_lock(&c->thread->stats.mutex);
			c->thread->stats.bytes_read += (uint64_t)res;
			pthread_mutex_unlock(&c->thread->stats.mutex);
			gotdata = READ_DATA_RECEIVED;
			c->rbytes += (size_t)res;
			if ((size_t)res == avail)
				continue;
			break;
		}
		if (res == 0 || res == KV_FAIL)
			return READ_ERROR;
		break;
	}
	return gotdata;
}

enum transmit_result { TRANSMIT_COMPLETE, TRANSMIT_INCOMPLETE, TRANSMIT_SOFT_ERROR, TRANSMIT_HARD_ERROR };

static enum transmit_result transmit(struct kv_conn *c)
{
	if (c->iovcurr == c->iovused)
		return TRANSMIT_COMPLETE;
	int n = c->iovused - c->iovcurr;
	long res = c->io->sendmsg(c->io_arg, &c->iov[c->iovcurr], n < IOV_MAX_SEND ? n : IOV_MAX_SEND);
	if (res > 0) {
		pthread_mutex_lock(&c->thread->stats.mutex);
		c->thread->stats.bytes_written += (uint64_t)res;
		pthread_mutex_unlock(&c->thread->stats.mutex);
		/* what was sent comes off the front of the vector */
		while (res > 0 && (size_t)res >= c->iov[c->iovcurr].iov_len) {
			res -= (long)c->iov[c->iovcurr].iov_len;
			c->iovcurr++;
		}
		if (res > 0) {
			c->iov[c->iovcurr].iov_base = (char *)c->iov[c->iovcurr].iov_base + res;
			c->iov[c->iovcurr].iov_len -= (size_t)res;
		}
		return TRANSMIT_INCOMPLETE;
	}
	return res == KV_AGAIN ? TRANSMIT_SOFT_ERROR : TRANSMIT_HARD_ERROR;
}

/* Buffers that grew for one big request go back to their usual size. */
static void conn_shrink(struct kv_conn *c)
{
	if (c->rsize > READ_BUFFER_HIGHWAT && c->rbytes < DATA_BUFFER_SIZE) {
		if (c->rcurr != c->rbuf)
			memmove(c->rbuf, c->rcurr, c->rbytes);
		char *n = kv_realloc(c->rbuf, DATA_BUFFER_SIZE);
		if (n != NULL) {
			c->rbuf = n;
			c->rsize = DATA_BUFFER_SIZE;
		}
		c->rcurr = c->rbuf;
	}
}

static void reset_cmd_handler(struct kv_conn *c)
{
	c->noreply = 0;
	conn_release_items(c);
	c->iovused = c->iovcurr = 0;
	conn_shrink(c);
	c->state = c->rbytes > 0 ? conn_parse_cmd : conn_waiting;
}

enum kv_wait kv_drive(struct kv_conn *c)
{
	for (;;) {
		switch (c->state) {
		case conn_new_cmd:
			reset_cmd_handler(c);
			break;
		case conn_waiting:
			c->state = conn_read;
			return KV_WAIT_READ;
		case conn_read:
			switch (try_read_network(c)) {
			case READ_NO_DATA_RECEIVED:
				c->state = conn_waiting;
				break;
			case READ_DATA_RECEIVED:
				c->state = conn_parse_cmd;
				break;
			case READ_ERROR:
				c->state = conn_closing;
				break;
			case READ_MEMORY_ERROR:
				kv_die("out of memory for a read buffer");
			}
			break;
		case conn_parse_cmd:
			if (!try_read_command(c))
				c->state = conn_waiting;
			break;
		case conn_nread: {
			if (c->rlbytes == 0) {
				complete_nread(c);
				break;
			}
			/* what was read with the command line first, then straight from the socket into the item */
			if (c->rbytes > 0) {
				size_t tocopy = c->rbytes > c->rlbytes ? c->rlbytes : c->rbytes;
				memmove(c->ritem, c->rcurr, tocopy);
				c->ritem += tocopy;
				c->rlbytes -= tocopy;
				c->rcurr += tocopy;
				c->rbytes -= tocopy;
				if (c->rlbytes == 0)
					break;
			}
			long res = c->io->read(c->io_arg, c->ritem, c->rlbytes);
			if (res > 0) {
				pthread_mutex_lock(&c->thread->stats.mutex);
				c->thread->stats.bytes_read += (uint64_t)res;
				pthread_mutex_unlock(&c->thread->stats.mutex);
				c->ritem += res;
				c->rlbytes -= (size_t)res;
				break;
			}
			if (res == KV_AGAIN)
				return KV_WAIT_READ;
			c->state = conn_closing;
			break;
		}
		case conn_swallow: {
			if (c->sbytes == 0) {
				c->state = conn_new_cmd;
				break;
			}
			if (c->rbytes > 0) {
				size_t tocopy = c->rbytes > c->sbytes ? c->sbytes : c->rbytes;
				c->sbytes -= tocopy;
				c->rcurr += tocopy;
				c->rbytes -= tocopy;
				break;
			}
			size_t want = c->rsize > c->sbytes ? c->sbytes : c->rsize;
			long res = c->io->read(c->io_arg, c->rbuf, want);
			if (res > 0) {
				pthread_mutex_lock(&c->thread->stats.mutex);
				c->thread->stats.bytes_read += (uint64_t)res;
				pthread_mutex_unlock(&c->thread->stats.mutex);
				c->sbytes -= (size_t)res;
				break;
			}
			if (res == KV_AGAIN)
				return KV_WAIT_READ;
			c->state = conn_closing;
			break;
		}
		case conn_write:
		case conn_mwrite:
			switch (transmit(c)) {
			case TRANSMIT_COMPLETE:
				conn_release_items(c);
				c->iovused = c->iovcurr = 0;
				c->state = c->write_and_go;
				break;
			case TRANSMIT_INCOMPLETE:
				break;
			case TRANSMIT_SOFT_ERROR:
				return KV_WAIT_WRITE;
			case TRANSMIT_HARD_ERROR:
				c->state = conn_closing;
				break;
			}
			break;
		case conn_closing:
			return KV_WAIT_CLOSE;
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * Set-up. */

void kv_init(size_t limit)
{
	for (int i = 0; i < ITEM_LOCKS; i++)
		pthread_mutex_init(&item_locks[i], NULL);
	slabs_init(limit);
}

void kv_thread_init(struct kv_thread *t)
{
	memset(t, 0, sizeof *t);
	pthread_mutex_init(&t->stats.mutex, NULL);
	int k = __atomic_fetch_add(&nthreads, 1, __ATOMIC_SEQ_CST);
	if (k >= KV_MAX_THREADS)
		kv_die("too many threads");
	__atomic_store_n(&threads[k], t, __ATOMIC_SEQ_CST);
}

void kv_set_time(uint32_t seconds)
{
	current_time = TIME_ORIGIN + seconds;
}

int kv_conn_init(struct kv_conn *c, struct kv_thread *t, const struct kv_io *io, void *arg)
{
	memset(c, 0, sizeof *c);
	c->io = io;
	c->io_arg = arg;
	c->thread = t;
	c->rsize = c->wsize = DATA_BUFFER_SIZE;
	c->iovsize = IOV_LIST_INITIAL;
	c->isize = ITEM_LIST_INITIAL;
	c->rbuf = kv_alloc(c->rsize);
	c->wbuf = kv_alloc(c->wsize);
	c->iov = kv_alloc(sizeof(struct iovec) * (size_t)c->iovsize);
	c->ilist = kv_alloc(sizeof(struct item *) * (size_t)c->isize);
	if (c->rbuf == NULL || c->wbuf == NULL || c->iov == NULL || c->ilist == NULL) {
		kv_conn_release(c);
		return -1;
	}
	c->rcurr = c->rbuf;
	c->state = conn_new_cmd;
	pthread_mutex_lock(&t->stats.mutex);
	t->stats.conns++;
	pthread_mutex_unlock(&t->stats.mutex);
	pthread_mutex_lock(&stats_lock);
	stats.curr_conns++;
	stats.total_conns++;
	pthread_mutex_unlock(&stats_lock);
	return 0;
}

void kv_conn_release(struct kv_conn *c)
{
	if (c->rbuf != NULL && c->wbuf != NULL && c->iov != NULL && c->ilist != NULL) {
		conn_release_items(c);
		pthread_mutex_lock(&stats_lock);
		stats.curr_conns--;
		pthread_mutex_unlock(&stats_lock);
	}
	kv_free(c->rbuf);
	kv_free(c->wbuf);
	kv_free(c->iov);
	kv_free(c->ilist);
	c->rbuf = c->wbuf = NULL;
	c->iov = NULL;
	c->ilist = NULL;
}

void kv_stats_aggregate(struct kv_totals *out)
{
	int n = __atomic_load_n(&nthreads, __ATOMIC_SEQ_CST);
	memset(out, 0, sizeof *out);
	for (int i = 0; i < n; i++) {
		struct kv_thread_stats *s = &threads[i]->stats;
		pthread_mutex_lock(&s->mutex);
		out->gets += s->get_cmds;
		out->deletes += s->delete_misses;
		out->errors += s->errors;
		for (int k = 0; k < MAX_SLAB_CLASSES; k++) {
			out->hits += s->slab_stats[k].get_hits;
			out->sets += s->slab_stats[k].set_cmds;
			out->deletes += s->slab_stats[k].delete_hits;
		}
		pthread_mutex_unlock(&s->mutex);
	}
}
