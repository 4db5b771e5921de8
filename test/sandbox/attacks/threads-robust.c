/* Robust futexes under the sandbox, whose runtime keeps each thread's robust list itself.
 *   1. a thread takes a robust mutex and exits holding it: the next lock is EOWNERDEAD;
 *   2. the same with the first thread already waiting for the lock: woken, EOWNERDEAD;
 *      (musl releases a dying thread's robust mutexes itself in pthread_exit; the kernel's walk
 *      at exit, here the runtime's, is for the one it was taking, list_op_pending)
 *   3. the attack: a thread whose robust list names a word in the runtime's memory (the
 *      argument copies, where its own last copied argument holds its tid, the value the exit
 *      walk looks for). The kernel's walk would write FUTEX_OWNER_DIED there; the runtime's walk
 *      touches only what ring 3 may. The program cannot see the runtime's memory: the test
 *      checks that no robust list reached the kernel, and that the run goes on. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include "attack.h"

#define ARG_COPIES 0x70140000L

static pthread_mutex_t m;
static volatile int locked;

static void *holder(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&m);
	locked = 1;
	for (int i = 0; i < 100; i++) sched_yield();
	return 0; /* exits holding m */
}

struct robust_head { long next, offset, pending; };

static void *forger(void *arg)
{
	(void)arg;
	static struct robust_head head;
	static long entry[2];
	long tid = raw6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	head.next = (long)entry;
	head.offset = ARG_COPIES - (long)entry;
	head.pending = 0;
	entry[0] = (long)&head; /* the list ends after one entry */
	printf("set_robust_list: %ld\n", raw6(SYS_set_robust_list, (long)&head, sizeof head, 0, 0, 0, 0));
	fflush(stdout);
	/* A copied argument whose first word is the tid: nanosleep's timespec, tv_nsec invalid. */
	static long ts[2];
	ts[0] = tid;
	ts[1] = -1;
	raw6(SYS_nanosleep, (long)ts, 0, 0, 0, 0, 0);
	return 0; /* pthread_exit: musl walks its own list, then SYS_exit, where the forged one is walked */
}

int main(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&m, &a);
	pthread_t t;
	pthread_create(&t, 0, holder, 0);
	pthread_join(t, 0);
	int r = pthread_mutex_lock(&m);
	printf("lock after the owner exited: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "0" : "other");
	pthread_mutex_consistent(&m);
	pthread_mutex_unlock(&m);
	locked = 0;
	pthread_create(&t, 0, holder, 0);
	while (!locked) sched_yield();
	r = pthread_mutex_lock(&m); /* waits: the holder exits holding it */
	printf("waiter woken by the owner's exit: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "0" : "other");
	pthread_join(t, 0);
	pthread_create(&t, 0, forger, 0);
	pthread_join(t, 0);
	printf("main: after the forger\n");
	return 0;
}
