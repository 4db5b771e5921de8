/* The memcached protocol, hash table and locks that kvserver's two front ends share: see kv-protocol.h. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv-protocol.h"

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

long kv_st_gets, kv_st_hits, kv_st_sets, kv_st_deletes, kv_st_errors;

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

static void out(struct kv_conn *c, const char *s, size_t n)
{
	if (c->wlen + n > c->wcap) {
		size_t cap = c->wcap * 2;
		while (cap < c->wlen + n)
			cap *= 2;
		c->wbuf = kv_realloc(c->wbuf, cap);
		if (c->wbuf == NULL)
			kv_die("realloc");
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, s, n);
	c->wlen += n;
}

static void outs(struct kv_conn *c, const char *s)
{
	out(c, s, strlen(s));
}

/* " N": a space and a decimal number (what snprintf would do, in a tenth of the instructions) */
static void out_u32(struct kv_conn *c, uint32_t v)
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

static void client_error(struct kv_conn *c, const char *s)
{
	__atomic_add_fetch(&kv_st_errors, 1, __ATOMIC_RELAXED);
	outs(c, s);
}

/* "get KEY...": every key's item, if there is one, then END. Keys are taken straight from the line. */
static void do_get(struct kv_conn *c, char *keys)
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
		__atomic_add_fetch(&kv_st_gets, 1, __ATOMIC_RELAXED);
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
			__atomic_add_fetch(&kv_st_hits, 1, __ATOMIC_RELAXED);
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
	kv_free(old);
}

static void do_delete(struct kv_conn *c, char **tok, int ntok)
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
	__atomic_add_fetch(&kv_st_deletes, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(item_lock(hv));
	pthread_mutex_lock(&cache_lock);
	struct item **p = find(hv, tok[1], nkey);
	struct item *old = *p;
	if (old != NULL)
		*p = old->next;
	pthread_mutex_unlock(&cache_lock);
	pthread_mutex_unlock(item_lock(hv));
	kv_free(old);
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

static void do_set(struct kv_conn *c, char **tok, int ntok)
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
	struct item *it = kv_alloc(sizeof *it + nkey + bytes + 2);
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
static void command(struct kv_conn *c, char *line)
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
		__atomic_add_fetch(&kv_st_errors, 1, __ATOMIC_RELAXED);
		outs(c, "ERROR\r\n");
	}
}

/* Works through what has been read: data blocks of sets, then command lines. 0: close the connection. */
void kv_process(struct kv_conn *c)
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
				kv_free(it);
				client_error(c, "CLIENT_ERROR bad data chunk\r\n");
				continue;
			}
			memcpy(it->data + it->nkey, d, it->nbytes);
			__atomic_add_fetch(&kv_st_sets, 1, __ATOMIC_RELAXED);
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
}

void kv_init(void)
{
	for (int i = 0; i < ITEM_LOCKS; i++)
		pthread_mutex_init(&item_locks[i], NULL);
}

void kv_conn_init(struct kv_conn *c)
{
	memset(c, 0, sizeof *c);
	c->rcap = 2048;
	c->wcap = 2048;
	c->rbuf = kv_alloc(c->rcap);
	c->wbuf = kv_alloc(c->wcap);
	if (c->rbuf == NULL || c->wbuf == NULL)
		kv_die("malloc");
}

void kv_conn_release(struct kv_conn *c)
{
	kv_free(c->pending);
	kv_free(c->rbuf);
	kv_free(c->wbuf);
	c->pending = NULL;
	c->rbuf = c->wbuf = NULL;
}

size_t kv_reserve(struct kv_conn *c)
{
	size_t min = c->rlen + 1024;
	if (c->pending != NULL && c->need + 1024 > min)
		min = c->need + 1024;
	if (c->rcap < min) {
		size_t cap = c->rcap;
		while (cap < min)
			cap *= 2;
		c->rbuf = kv_realloc(c->rbuf, cap);
		if (c->rbuf == NULL)
			kv_die("realloc");
		c->rcap = cap;
	}
	return c->rcap - c->rlen;
}
