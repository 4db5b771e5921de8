/*
 * mutex: `mutex [THREADS [ITERS]]` (default 4 × 20000). Each thread adds to one shared counter
 * ITERS times under a pthread mutex, and to a second counter with a lock-free atomic add; a third,
 * unprotected counter is only read by its owner. Also: pthread_mutex_trylock on a held mutex
 * (EBUSY), an error-checking mutex relocked by its owner (EDEADLK) and unlocked by another thread
 * (EPERM), a recursive mutex taken three times. Prints totals only, so the output is the same on
 * any number of CPUs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t errcheck;
static long shared;
static long atomic_total;
static long iters = 20000;

struct worker { int id; long own; };

static void *work(void *arg)
{
	struct worker *w = arg;
	for (long i = 0; i < iters; i++) {
		pthread_mutex_lock(&lock);
		shared++;
		pthread_mutex_unlock(&lock);
		__atomic_add_fetch(&atomic_total, 1, __ATOMIC_SEQ_CST);
		w->own++;
	}
	return NULL;
}

static void *unlock_foreign(void *arg)
{
	(void)arg;
	return (void *)(long)pthread_mutex_unlock(&errcheck);
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 4;
	if (argc > 2) iters = atol(argv[2]);
	if (threads < 1 || threads > 64 || iters < 1) {
		fprintf(stderr, "usage: mutex [THREADS(1-64) [ITERS]]\n");
		return 2;
	}
	pthread_t tid[64];
	struct worker w[64];
	for (int i = 0; i < threads; i++) {
		w[i].id = i;
		w[i].own = 0;
		if (pthread_create(&tid[i], NULL, work, &w[i]) != 0) return 1;
	}
	for (int i = 0; i < threads; i++) pthread_join(tid[i], NULL);
	long own = 0;
	for (int i = 0; i < threads; i++) own += w[i].own;
	printf("threads=%d iters=%ld\n", threads, iters);
	printf("mutex counter %ld (expected %ld) %s\n", shared, threads * iters, shared == threads * iters ? "ok" : "FAIL");
	printf("atomic counter %ld %s\n", atomic_total, atomic_total == threads * iters ? "ok" : "FAIL");
	printf("per-thread sum %ld %s\n", own, own == threads * iters ? "ok" : "FAIL");

	pthread_mutex_lock(&lock);
	int r = pthread_mutex_trylock(&lock);
	printf("trylock on a held mutex: %s\n", r == EBUSY ? "EBUSY" : "FAIL");
	pthread_mutex_unlock(&lock);
	r = pthread_mutex_trylock(&lock);
	printf("trylock on a free mutex: %s\n", r == 0 ? "0" : "FAIL");
	pthread_mutex_unlock(&lock);

	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&errcheck, &a);
	pthread_mutex_lock(&errcheck);
	r = pthread_mutex_lock(&errcheck);
	printf("errorcheck relock by its owner: %s\n", r == EDEADLK ? "EDEADLK" : "FAIL");
	pthread_t t;
	void *res;
	pthread_create(&t, NULL, unlock_foreign, NULL);
	pthread_join(t, &res);
	printf("errorcheck unlock by another thread: %s\n", (long)res == EPERM ? "EPERM" : "FAIL");
	pthread_mutex_unlock(&errcheck);

	pthread_mutex_t rec;
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&rec, &a);
	int ok = 1;
	for (int i = 0; i < 3; i++) ok &= pthread_mutex_lock(&rec) == 0;
	for (int i = 0; i < 3; i++) ok &= pthread_mutex_unlock(&rec) == 0;
	ok &= pthread_mutex_unlock(&rec) == EPERM;
	printf("recursive mutex locked three times: %s\n", ok ? "ok" : "FAIL");
	return shared == threads * iters && atomic_total == threads * iters ? 0 : 1;
}
