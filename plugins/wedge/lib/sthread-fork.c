/*
 * STHREAD_IMPL=fork: the original Wedge way, an sthread is a process. What Linux lets a library
 * enforce without a kernel module is enforced in the child before the callback runs:
 *   - tags: every tag the sthread is not granted is unmapped, a read-only grant is mprotected;
 *   - file descriptors: every descriptor that is not granted is closed;
 * and what it cannot is not: memory outside tags (the child is a copy-on-write image of the
 * master at sthread_create, secrets included), and system calls (no seccomp here).
 * The child runs on a fresh stack (clone without CLONE_VM), so no frame of the master is in it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sthread-internal.h"

#define FORK_STACK_SIZE (64 * 1024)
#define MAX_TAGS 64
#define MAX_FDS 64

struct sthread {
	pid_t pid;
	int result[2]; /* the child writes cb's return value here */
	sc_t sc;
	stcb_t cb;
	void *arg;
	void *stack;
	int id;
};

static tag_t all_tags[MAX_TAGS]; /* the master's tags, to unmap the ones not granted */
static int ntags, nsthreads;

int fork_sthread_init(void)
{
	return 0;
}

/* Called by tag_new's users through sthread_create: the set of tags to hide. */
static void remember_tags(const sc_t *sc)
{
	for (int i = 0; i < sc->nmem; i++) {
		int known = 0;
		for (int j = 0; j < ntags; j++)
			known |= all_tags[j] == sc->mem[i].tag;
		if (!known && ntags < MAX_TAGS)
			all_tags[ntags++] = sc->mem[i].tag;
	}
}

/* Applies sc in this process; keep is a descriptor the library itself needs. */
static void restrict_to(const sc_t *sc, const int *keep, int nkeep)
{
	for (int j = 0; j < ntags; j++) {
		int prot = 0;
		for (int i = 0; i < sc->nmem; i++)
			if (sc->mem[i].tag == all_tags[j])
				prot |= sc->mem[i].prot;
		if (!prot)
			munmap(all_tags[j], TAG_SIZE);
		else if (!(prot & PROT_WRITE))
			mprotect(all_tags[j], TAG_SIZE, PROT_READ);
	}
	for (int fd = 0; fd < MAX_FDS; fd++) {
		int kept = sc_fd_prot(sc, fd) != 0;
		for (int i = 0; i < nkeep; i++)
			kept |= keep[i] == fd;
		for (int i = 0; i < sc->ncgate; i++)
			kept |= fd == sc->cgate[i]->req[1] || fd == sc->cgate[i]->resp[0];
		if (!kept)
			close(fd);
	}
}

static int child_main(void *p)
{
	struct sthread *st = p;
	close(st->result[0]);
	restrict_to(&st->sc, &st->result[1], 1);
	long ret = st->cb(st->arg);
	write(st->result[1], &ret, sizeof(ret));
	_exit(0);
}

int fork_sthread_create(sthread_t *out, sc_t *sc, stcb_t cb, void *arg)
{
	struct sthread *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	remember_tags(sc);
	st->sc = *sc;
	st->cb = cb;
	st->arg = arg;
	st->id = ++nsthreads;
	st->stack = mmap(NULL, FORK_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st->stack == MAP_FAILED || pipe(st->result)) {
		free(st);
		return -ENOMEM;
	}
	st->pid = clone(child_main, (char *) st->stack + FORK_STACK_SIZE, SIGCHLD, st);
	close(st->result[1]);
	if (st->pid < 0) {
		close(st->result[0]);
		free(st);
		return -errno;
	}
	sthread_stats.created++;
	*out = st;
	return 0;
}

int fork_sthread_join(sthread_t st, long *ret)
{
	int status, rc = 0;
	long value = 0;
	if (waitpid(st->pid, &status, 0) < 0)
		return -errno;
	if (WIFSIGNALED(status)) {
		/* The child closed stderr with the descriptors it was not granted: the master reports. */
		fprintf(stderr, "wedge: sthread %d killed: signal %d (rule: the kernel's, a tag not granted or read-only)\n",
			st->id, WTERMSIG(status));
	}
	if (read(st->result[0], &value, sizeof(value)) != sizeof(value) || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		rc = STHREAD_KILLED;
		value = 0;
		sthread_stats.violations++;
	}
	close(st->result[0]);
	munmap(st->stack, FORK_STACK_SIZE);
	free(st);
	if (ret)
		*ret = value;
	return rc;
}

/* A callgate is a server process forked from the master, under the gate's own policy. */
int fork_cgate_start(cgate_t cg)
{
	if (pipe(cg->req) || pipe(cg->resp))
		return -errno;
	remember_tags(&cg->sc);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int keep[2] = { cg->req[0], cg->resp[1] };
		close(cg->req[1]);
		close(cg->resp[0]);
		restrict_to(&cg->sc, keep, 2);
		long x;
		while (read(keep[0], &x, sizeof(x)) == sizeof(x)) {
			long r = cg->cb(cg->arg, x);
			write(keep[1], &r, sizeof(r));
		}
		_exit(0);
	}
	close(cg->req[0]);
	close(cg->resp[1]);
	return 0;
}

long fork_cgate_call(cgate_t cg, long x)
{
	long r;
	if (write(cg->req[1], &x, sizeof(x)) != sizeof(x) || read(cg->resp[0], &r, sizeof(r)) != sizeof(r))
		return -EPIPE;
	sthread_stats.cgate_calls++;
	return r;
}
