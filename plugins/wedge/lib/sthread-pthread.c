/* STHREAD_IMPL=pthread: the sthread API over pthreads. Nothing of the policy is enforced. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "sthread-internal.h"

struct sthread {
	pthread_t thread;
	stcb_t cb;
	void *arg;
	long ret;
};

static void *pthread_entry(void *p)
{
	struct sthread *st = p;
	st->ret = st->cb(st->arg);
	return NULL;
}

int pthread_sthread_create(sthread_t *out, sc_t *sc, stcb_t cb, void *arg)
{
	(void) sc;
	struct sthread *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cb = cb;
	st->arg = arg;
	int err = pthread_create(&st->thread, NULL, pthread_entry, st);
	if (err) {
		free(st);
		return -err;
	}
	sthread_stats.created++;
	*out = st;
	return 0;
}

int pthread_sthread_join(sthread_t st, long *ret)
{
	int err = pthread_join(st->thread, NULL);
	if (err)
		return -err;
	if (ret)
		*ret = st->ret;
	free(st);
	return 0;
}
