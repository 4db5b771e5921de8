/*
 * sthreads (Bittau et al., "Wedge", NSDI 2008), as Dune's port runs them (Belay et al., OSDI
 * 2012, §5.2): a thread of control with fork-like isolation and its own policy (sc_t) over
 * memory tags, file descriptors, system calls and callgates. Three implementations of the same
 * API, chosen at run time by sthread_init from the environment variable STHREAD_IMPL:
 *
 *   dune     (default) guest ring 3 under a per-sthread page table; ring 0 enforces the policy;
 *   fork     each sthread is a forked process (tags are MAP_SHARED), the original Wedge way;
 *   pthread  each sthread is a pthread: the same API with no isolation at all.
 *
 * docs/wedge.md says what each one enforces.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h> /* PROT_READ, PROT_WRITE */

#ifdef __cplusplus
extern "C" {
#endif

#define SC_MAX_MEM   8
#define SC_MAX_FD    8
#define SC_MAX_CGATE 4
#define SC_NR_SYS    512 /* system calls 0..511 can be granted */

#define TAG_SIZE (64 * 1024) /* each tag is an arena of this size */

/* A memory tag: an arena smalloc allocates from; sthreads see it only if granted. */
typedef struct tag *tag_t;
typedef struct cgate *cgate_t;
typedef struct sthread *sthread_t;

/* An sthread's policy (upstream's sc_t, with callgates). */
typedef struct {
	struct {
		tag_t tag;
		int prot;
	} mem[SC_MAX_MEM];
	int nmem;
	struct {
		int fd;
		int prot;
	} fd[SC_MAX_FD];
	int nfd;
	uint64_t sys[SC_NR_SYS / 64];
	cgate_t cgate[SC_MAX_CGATE];
	int ncgate;
} sc_t;

typedef long (*stcb_t)(void *arg);
/* A callgate's entry point: arg is bound by its creator (trusted), x comes from the caller. */
typedef long (*cgate_cb_t)(void *arg, long x);

enum sthread_impl { STHREAD_DUNE, STHREAD_FORK, STHREAD_PTHREAD };

/* sthread_join's result for an sthread that broke its policy and was killed. */
#define STHREAD_KILLED (-1)

void sc_init(sc_t *sc);
int sc_mem_add(sc_t *sc, tag_t tag, int prot);  /* prot: PROT_READ, optionally | PROT_WRITE */
int sc_fd_add(sc_t *sc, int fd, int prot);      /* prot: PROT_READ and/or PROT_WRITE */
int sc_sys_add(sc_t *sc, int nr);
int sc_cgate_add(sc_t *sc, cgate_t cg);

/* Reads STHREAD_IMPL (dune|fork|pthread); dune checkpoints the writable segments. 0 or -errno. */
int sthread_init(void);
enum sthread_impl sthread_impl(void);
const char *sthread_impl_name(void);

int sthread_create(sthread_t *st, sc_t *sc, stcb_t cb, void *arg);
/* 0 and *ret = cb's return value, or STHREAD_KILLED. The sthread is recycled afterwards. */
int sthread_join(sthread_t st, long *ret);

tag_t tag_new(void);
void *smalloc(tag_t tag, size_t size);
void sfree(void *p);

/* A callgate runs cb(arg, x) with the privileges of sc, in its own protection domain. */
cgate_t cgate_new(cgate_cb_t cb, sc_t *sc, void *arg);
/* From an sthread granted cg (sc_cgate_add): the gate's result; -EPERM if not granted. */
long cgate_call(cgate_t cg, long x);

/* What the implementation did, counted where it happens. */
struct sthread_stats {
	long created;          /* sthreads built from scratch */
	long recycled;         /* sthread_create calls served by a dead sthread */
	long pages_restored;   /* writable-segment pages copied back from the checkpoint */
	long stack_zeroed;     /* dirty stack pages zeroed */
	long violations;       /* sthreads killed for breaking their policy */
	long syscalls;         /* system calls the ring-0 handler checked */
	long cgate_calls;
};
void sthread_get_stats(struct sthread_stats *out);

#ifdef __cplusplus
}
#endif
