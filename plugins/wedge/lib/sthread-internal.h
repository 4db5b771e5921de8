/* Shared between the three implementations of sthread.h. */
#pragma once

#include "sthread.h"

/* A tag's arena starts with this header; smalloc's chunks follow it. */
struct tag {
	uint64_t magic;
	size_t size;
	size_t used; /* bump pointer, from the start of the arena */
	uint64_t pad;
};
#define TAG_MAGIC 0x5741474557444745UL

struct cgate {
	cgate_cb_t cb;
	void *arg;
	sc_t sc;
	struct sthread *ctx; /* dune: the gate's protection domain, built on first call */
	int req[2], resp[2]; /* fork: the gate's server process talks over these pipes */
	int id;
};

extern enum sthread_impl sthread_current_impl;
extern struct sthread_stats sthread_stats;

int sc_fd_prot(const sc_t *sc, int fd);
int sc_sys_allowed(const sc_t *sc, long nr);
int sc_has_cgate(const sc_t *sc, cgate_t cg);

int dune_sthread_init(void);
int dune_sthread_create(sthread_t *st, sc_t *sc, stcb_t cb, void *arg);
int dune_sthread_join(sthread_t st, long *ret);
long dune_cgate_call(cgate_t cg, long x);

int fork_sthread_init(void);
int fork_sthread_create(sthread_t *st, sc_t *sc, stcb_t cb, void *arg);
int fork_sthread_join(sthread_t st, long *ret);
int fork_cgate_start(cgate_t cg);
long fork_cgate_call(cgate_t cg, long x);

int pthread_sthread_create(sthread_t *st, sc_t *sc, stcb_t cb, void *arg);
int pthread_sthread_join(sthread_t st, long *ret);

/* Raw system calls that need no libc state (usable from an sthread in ring 3). */
static inline long wedge_syscall3(long nr, long a0, long a1, long a2)
{
	long ret;
	asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "rcx", "r11", "memory");
	return ret;
}

/* Dune's sthread system calls (upstream uses 666 for exit). */
#define SYS_STHREAD_EXIT  666
#define SYS_STHREAD_CGATE 667
