/* The sthread API's common half: policies, tags and smalloc, and the choice of implementation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sthread-internal.h"

enum sthread_impl sthread_current_impl = STHREAD_DUNE;
struct sthread_stats sthread_stats;
static int initialised;
static int ncgates;

void sc_init(sc_t *sc)
{
	memset(sc, 0, sizeof(*sc));
}

int sc_mem_add(sc_t *sc, tag_t tag, int prot)
{
	if (!tag || tag->magic != TAG_MAGIC || !(prot & PROT_READ) || (prot & ~(PROT_READ | PROT_WRITE)))
		return -EINVAL;
	if (sc->nmem == SC_MAX_MEM)
		return -ENOSPC;
	sc->mem[sc->nmem].tag = tag;
	sc->mem[sc->nmem++].prot = prot;
	return 0;
}

int sc_fd_add(sc_t *sc, int fd, int prot)
{
	if (fd < 0 || !prot || (prot & ~(PROT_READ | PROT_WRITE)))
		return -EINVAL;
	if (sc->nfd == SC_MAX_FD)
		return -ENOSPC;
	sc->fd[sc->nfd].fd = fd;
	sc->fd[sc->nfd++].prot = prot;
	return 0;
}

int sc_sys_add(sc_t *sc, int nr)
{
	if (nr < 0 || nr >= SC_NR_SYS)
		return -EINVAL;
	sc->sys[nr / 64] |= 1UL << (nr % 64);
	return 0;
}

int sc_cgate_add(sc_t *sc, cgate_t cg)
{
	if (!cg)
		return -EINVAL;
	if (sc->ncgate == SC_MAX_CGATE)
		return -ENOSPC;
	sc->cgate[sc->ncgate++] = cg;
	return 0;
}

int sc_fd_prot(const sc_t *sc, int fd)
{
	for (int i = 0; i < sc->nfd; i++)
		if (sc->fd[i].fd == fd)
			return sc->fd[i].prot;
	return 0;
}

int sc_sys_allowed(const sc_t *sc, long nr)
{
	return nr >= 0 && nr < SC_NR_SYS && (sc->sys[nr / 64] >> (nr % 64)) & 1;
}

int sc_has_cgate(const sc_t *sc, cgate_t cg)
{
	for (int i = 0; i < sc->ncgate; i++)
		if (sc->cgate[i] == cg)
			return 1;
	return 0;
}

int sthread_init(void)
{
	const char *impl = getenv("STHREAD_IMPL");

	if (initialised)
		return -EBUSY;
	if (!impl || !strcmp(impl, "dune"))
		sthread_current_impl = STHREAD_DUNE;
	else if (!strcmp(impl, "fork"))
		sthread_current_impl = STHREAD_FORK;
	else if (!strcmp(impl, "pthread"))
		sthread_current_impl = STHREAD_PTHREAD;
	else
		return -EINVAL;
	initialised = 1;
	if (sthread_current_impl == STHREAD_DUNE)
		return dune_sthread_init();
	if (sthread_current_impl == STHREAD_FORK)
		return fork_sthread_init();
	return 0;
}

enum sthread_impl sthread_impl(void)
{
	return sthread_current_impl;
}

const char *sthread_impl_name(void)
{
	static const char *const names[] = { "dune", "fork", "pthread" };
	return names[sthread_current_impl];
}

int sthread_create(sthread_t *st, sc_t *sc, stcb_t cb, void *arg)
{
	if (!initialised)
		return -EINVAL;
	switch (sthread_current_impl) {
	case STHREAD_DUNE:
		return dune_sthread_create(st, sc, cb, arg);
	case STHREAD_FORK:
		return fork_sthread_create(st, sc, cb, arg);
	default:
		return pthread_sthread_create(st, sc, cb, arg);
	}
}

int sthread_join(sthread_t st, long *ret)
{
	switch (sthread_current_impl) {
	case STHREAD_DUNE:
		return dune_sthread_join(st, ret);
	case STHREAD_FORK:
		return fork_sthread_join(st, ret);
	default:
		return pthread_sthread_join(st, ret);
	}
}

/* Shared (MAP_SHARED) so that a forked sthread and its master see the same pages. */
tag_t tag_new(void)
{
	struct tag *t = mmap(NULL, TAG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	t->magic = TAG_MAGIC;
	t->size = TAG_SIZE;
	t->used = sizeof(struct tag);
	return t;
}

/* smalloc's chunk header: first fit over freed chunks, else a bump of the arena. */
struct chunk {
	uint32_t size; /* bytes after the header */
	uint32_t free;
	struct tag *tag;
};

/*
 * The header and the chunk headers live in the arena, where any sthread granted the tag for
 * writing can change them: every offset is checked against TAG_SIZE (a constant, not the header's
 * size), so a corrupted arena can only hand out memory of the same arena.
 */
void *smalloc(tag_t tag, size_t size)
{
	size = (size + 15) & ~15UL;
	if (!tag || tag->magic != TAG_MAGIC || size == 0 || size > TAG_SIZE)
		return NULL;
	size_t used = tag->used;
	if (used < sizeof(struct tag) || used > TAG_SIZE)
		return NULL;
	for (size_t off = sizeof(struct tag); off + sizeof(struct chunk) <= used;) {
		struct chunk *c = (struct chunk *) ((char *) tag + off);
		if (c->size > TAG_SIZE - off - sizeof(*c))
			return NULL;
		if (c->free && c->size >= size) {
			c->free = 0;
			return c + 1;
		}
		off += sizeof(*c) + c->size;
	}
	if (used + sizeof(struct chunk) + size > TAG_SIZE)
		return NULL;
	struct chunk *c = (struct chunk *) ((char *) tag + used);
	c->size = size;
	c->free = 0;
	c->tag = tag;
	tag->used = used + sizeof(*c) + size;
	return c + 1;
}

void sfree(void *p)
{
	if (p)
		((struct chunk *) p - 1)->free = 1;
}

cgate_t cgate_new(cgate_cb_t cb, sc_t *sc, void *arg)
{
	struct cgate *cg = calloc(1, sizeof(*cg));
	if (!cg || !cb)
		return NULL;
	cg->cb = cb;
	cg->arg = arg;
	if (sc)
		cg->sc = *sc;
	cg->id = ++ncgates;
	cg->req[0] = cg->req[1] = cg->resp[0] = cg->resp[1] = -1;
	if (sthread_current_impl == STHREAD_FORK && fork_cgate_start(cg)) {
		free(cg);
		return NULL;
	}
	return cg;
}

long cgate_call(cgate_t cg, long x)
{
	switch (sthread_current_impl) {
	case STHREAD_DUNE:
		return dune_cgate_call(cg, x);
	case STHREAD_FORK:
		return fork_cgate_call(cg, x);
	default:
		return cg->cb(cg->arg, x);
	}
}

void sthread_get_stats(struct sthread_stats *out)
{
	*out = sthread_stats;
}
