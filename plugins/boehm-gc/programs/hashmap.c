/*
 * HashMap (Dune §6.3.3 used Google's sparse hash map; this one is written here): an open-
 * addressing table with linear probing of pointers to GC-allocated entries {key, boxed value},
 * doubling when three quarters full. Each of 10 rounds builds a fresh map of SCALE keys
 * (default 2048) and then updates every key 15 times with a newly allocated value box, looking
 * the key up each time; the old boxes, the outgrown tables and the previous round's map are
 * garbage. Little is live at any time, as in the paper (27 MB of heap for 10,352 MB allocated).
 *
 * Checksum: the sum of every round's values, read back through lookups.
 */
#include "workload.h"

#define ROUNDS 10
#define UPDATES 15

typedef struct box {
	long v;
} box;

typedef struct entry {
	unsigned long key;
	box *value;
} entry;

typedef struct map {
	entry **slots;
	unsigned long cap, n;
} map;

static unsigned long hash(unsigned long k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdUL;
	k ^= k >> 33;
	return k;
}

static entry **find(map *m, unsigned long key)
{
	unsigned long i = hash(key) & (m->cap - 1);
	while (m->slots[i] != NULL && m->slots[i]->key != key)
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static void grow(map *m)
{
	entry **old = m->slots;
	unsigned long oldcap = m->cap;
	m->cap *= 2;
	m->slots = GC_malloc(m->cap * sizeof(entry *));
	for (unsigned long i = 0; i < oldcap; i++)
		if (old[i] != NULL)
			*find(m, old[i]->key) = old[i];
}

static box *new_box(long v)
{
	box *b = GC_malloc_atomic(sizeof(box));
	b->v = v;
	return b;
}

static void put(map *m, unsigned long key, long v)
{
	if ((m->n + 1) * 4 > m->cap * 3)
		grow(m);
	entry **s = find(m, key);
	if (*s == NULL) {
		entry *e = GC_malloc(sizeof(entry));
		e->key = key;
		*s = e;
		m->n++;
	}
	(*s)->value = new_box(v);
}

static long get(map *m, unsigned long key)
{
	entry *e = *find(m, key);
	return e == NULL ? -1 : e->value->v;
}

int main(int argc, char **argv)
{
	long keys = wl_scale(argc, argv, 2048, 1, 1L << 22);
	wl_start();
	unsigned long total = 0;
	for (long r = 0; r < ROUNDS; r++) {
		map *m = GC_malloc(sizeof(map));
		m->cap = 16;
		m->slots = GC_malloc(m->cap * sizeof(entry *));
		for (long i = 0; i < keys; i++)
			put(m, (unsigned long) (i * 2654435761L + r), i);
		for (long u = 1; u <= UPDATES; u++)
			for (long i = 0; i < keys; i++) {
				unsigned long k = (unsigned long) (i * 2654435761L + r);
				put(m, k, get(m, k) + u);
			}
		for (long i = 0; i < keys; i++)
			total += (unsigned long) get(m, (unsigned long) (i * 2654435761L + r));
		total = total * 7 + m->n;
	}
	return wl_finish(total);
}
