/* How threads leave (not an attack: the exit paths of a threaded program under the sandbox).
 * The first thread leaves with pthread_exit (SYS_exit: that thread only); a worker goes on
 * alone, prints, then leaves with SYS_exit(7) — the last thread out, so the process ends with
 * the status Linux gives it (the first thread's, 0), not 7. */
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include "attack.h"

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) sched_yield();
	printf("worker: alone, tid != pid: %d\n", raw6(SYS_gettid, 0, 0, 0, 0, 0, 0) != raw6(SYS_getpid, 0, 0, 0, 0, 0, 0));
	fflush(stdout);
	raw6(SYS_exit, 7, 0, 0, 0, 0, 0);
	return 0;
}

int main(void)
{
	pthread_t t;
	pthread_create(&t, 0, worker, 0);
	printf("main: leaving first\n");
	fflush(stdout);
	pthread_exit(0);
}
