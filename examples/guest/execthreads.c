/*
 * execthreads: execve(2) from a multi-threaded process, and after vfork(2) and posix_spawn(3).
 *   1. Two threads are started: one spins for ever (yielding now and then), one sleeps on a condition variable nobody
 *      signals. Then a thread that is not the main one execs this program ("after-threads"): the
 *      other threads must die (de_thread) and the new image runs alone with the same pid.
 *   2. "after-threads" vforks a child that execs this program ("vfork-child"): the parent
 *      sleeps until the exec, then collects the child's status.
 *   3. It then runs "spawn-child" with posix_spawn (musl: clone(CLONE_VM | CLONE_VFORK) and
 *      execve), and waits for it.
 * Prints no pids or tids, so the output is the same natively and on the model.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static const char *self = "./execthreads";
static volatile unsigned long spins;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void *spinner(void *arg)
{
	(void)arg;
	/* Spins in user mode, yielding now and then so that on one CPU the others need not wait
	 * for the scheduler tick (which would make the test slow to interpret). */
	for (;;)
		if ((++spins & 0xffff) == 0)
			sched_yield();
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;)
		pthread_cond_wait(&never, &lock);
	return NULL;
}

static void *execer(void *arg)
{
	char pidbuf[64];
	snprintf(pidbuf, sizeof pidbuf, "EXECTHREADS_PID=%d", (int)getpid());
	char *argv[] = { (char *)self, "after-threads", NULL };
	char *envp[] = { pidbuf, NULL };
	(void)arg;
	for (int i = 0; i < 3; i++)
		sched_yield(); /* let the others start: with two CPUs the spinner is running on the other */
	printf("threads: a second thread execs while two others run and sleep\n");
	fflush(stdout);
	execve(self, argv, envp);
	printf("execve failed\n");
	exit(1);
}

static void after_threads(const char *me)
{
	self = me;
	const char *pid = getenv("EXECTHREADS_PID");
	printf("after-threads: pid kept: %s\n", pid != NULL && atoi(pid) == (int)getpid() ? "yes" : "no");
	fflush(stdout);
	int status;
	pid_t child = vfork();
	if (child == 0) {
		char *argv[] = { (char *)self, "vfork-child", "x", NULL };
		execve(self, argv, environ);
		_exit(127);
	}
	waitpid(child, &status, 0);
	printf("after-threads: vfork child exited %d\n", WEXITSTATUS(status));
	char *argv[] = { (char *)self, "spawn-child", NULL };
	int e = posix_spawn(&child, self, NULL, NULL, argv, environ);
	if (e != 0) {
		printf("posix_spawn failed: %s\n", strerror(e));
		exit(1);
	}
	waitpid(child, &status, 0);
	printf("after-threads: posix_spawn child exited %d\n", WEXITSTATUS(status));
	exit(0);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "after-threads") == 0)
		after_threads(argv[0]);
	if (argc >= 2 && strcmp(argv[1], "vfork-child") == 0) {
		printf("vfork-child: argc=%d %s\n", argc, argv[2]);
		return 21;
	}
	if (argc >= 2 && strcmp(argv[1], "spawn-child") == 0) {
		printf("spawn-child: running\n");
		return 22;
	}
	/* make check runs it by bare name through PATH: exec the copy found there. */
	if (access(self, X_OK) != 0) {
		static char path[4096];
		const char *p = getenv("PATH");
		snprintf(path, sizeof path, "%.*s/execthreads", p ? (int)strcspn(p, ":") : 1, p ? p : ".");
		self = path;
	}
	pthread_t a, b, c;
	pthread_create(&a, NULL, spinner, NULL);
	pthread_create(&b, NULL, sleeper, NULL);
	pthread_create(&c, NULL, execer, NULL);
	pthread_join(c, NULL);
	return 1;
}
