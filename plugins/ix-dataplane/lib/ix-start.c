/* libix: ix_start, an application's elastic threads (see ix.h). Its own object file, so that a
 * program that starts its threads itself (hostile-ix) links no pthread code. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "libdune/dune.h"
#include "ix.h"


static char ustack[IX_MAX_THREADS][65536] __attribute__((aligned(16)));
static int start_turn;
static struct {
	const char *name;
	int nthreads, batch;
	void (*app)(void);
	void (*thread_init)(int);
} start;

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Waits until every elastic thread has joined; false when one failed. */
static int all_joined(void)
{
	int r;
	while ((r = __atomic_load_n(&start_turn, __ATOMIC_SEQ_CST)) != start.nthreads) {
		if (r < 0)
			return 0;
		sched_yield();
	}
	return 1;
}

static void *elastic_thread(void *arg)
{
	int me = (int) (long) arg;
	start.thread_init(me);
	pin(me);
	while (__atomic_load_n(&start_turn, __ATOMIC_SEQ_CST) != me)
		sched_yield();
	int ret = dune_enter();
	if (!ret)
		ret = ix_init_thread(start.batch);
	if (ret) {
		dune_printf("%s: elastic thread %d: set-up failed (%d)\n", start.name, me, ret);
		__atomic_store_n(&start_turn, -1, __ATOMIC_SEQ_CST);
		return NULL;
	}
	__atomic_store_n(&start_turn, me + 1, __ATOMIC_SEQ_CST);
	if (!all_joined())
		return NULL;
	/* ix_run returns in the thread that ended the run: the process ends with it. */
	exit(ix_run(start.app, ustack[me], sizeof(ustack[me])));
}

int ix_start(const char *name, int nthreads, int batch, void (*app)(void), void (*thread_init)(int))
{
	pthread_t t;
	int ret;

	if (nthreads < 1 || nthreads > IX_MAX_THREADS) {
		dune_printf("%s: %d elastic threads: 1 to %d\n", name, nthreads, IX_MAX_THREADS);
		return 1;
	}
	start.name = name;
	start.nthreads = nthreads;
	start.batch = batch;
	start.app = app;
	start.thread_init = thread_init;
	thread_init(0);
	if (nthreads == 1) {
		ret = ix_init(batch);
	} else {
		ret = dune_init(1);
		for (int i = 1; i < nthreads && !ret; i++)
			if (pthread_create(&t, NULL, elastic_thread, (void *) (long) i))
				ret = -1;
		pin(0);
		if (!ret)
			ret = dune_enter();
		if (!ret)
			ret = ix_init_thread(batch);
	}
	if (ret) {
		dune_printf("%s: ix_init failed (%d)\n", name, ret);
		return 1;
	}
	__atomic_store_n(&start_turn, 1, __ATOMIC_SEQ_CST);
	if (!all_joined())
		return 1;
	return ix_run(app, ustack[0], sizeof(ustack[0]));
}
