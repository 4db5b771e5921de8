/*
 * threadbench: the workloads of `dunesim bench threads`. Each runs one operation N times, so that
 * two runs with different N give the cost of one operation (their difference over the difference
 * in N) and the mechanism counts behind it, with start-up and exit cancelled out.
 *
 *   threadbench create-pthread N      pthread_create + pthread_join
 *   threadbench create-fork N         fork; the child _exits; waitpid
 *   threadbench create-vfork-exec N   vfork; the child execs this program ("exit"); waitpid
 *   threadbench futex-wake N A B      two threads pinned to CPUs A and B hand a token back and forth
 *                                     through a futex word, N round trips (2N wake-ups)
 *   threadbench shootdown N K         K threads spin on CPUs 1..K reading a shared page, while the
 *                                     main thread on CPU 0 flips a page's protection N times
 *                                     (mprotect: each change is flushed on every CPU running the mm)
 *   threadbench ctxsw-thread N P      two threads on one CPU alternate N times through a futex,
 *                                     each reading P pages of its own between switches
 *   threadbench ctxsw-process N P     the same with two processes (the futex word in a shared page)
 *   threadbench exit                  exits at once (the image create-vfork-exec runs)
 *
 * Prints a line naming what it did and exits 0; on any failure it says so and exits 1.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
/* musl's headers have no <linux/futex.h>: the operations from the Linux ABI. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)

static int fail(const char *what)
{
	printf("threadbench: %s failed\n", what);
	return 1;
}

static long futex(volatile int *w, int op, int val)
{
	return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static int pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return sched_setaffinity(0, sizeof s, &s);
}

/* Its own function, so that nothing of the caller's frame lives across the vfork. */
static __attribute__((noinline)) int vfork_exec(char *self)
{
	pid_t c = vfork();
	if (c < 0) return -1;
	if (c == 0) {
		char *args[] = { self, "exit", NULL };
		execv(self, args);
		_exit(127);
	}
	int st;
	return waitpid(c, &st, 0) == c && st == 0 ? 0 : -1;
}

static void *nothing(void *arg)
{
	return arg;
}

/* The token: whose turn it is (0 or 1). A player waits while the turn is the other's, takes its
 * turn, passes the token on and wakes the other. `op` adds FUTEX_PRIVATE_FLAG for threads. */
static volatile int *turn;
static long rounds;
static int pages;
static int wait_op = FUTEX_WAIT, wake_op = FUTEX_WAKE;

static void play(int me, volatile char *ws)
{
	unsigned sum = 0;
	for (long i = 0; i < rounds; i++) {
		while (*turn != me) futex(turn, wait_op, !me);
		for (int p = 0; p < pages; p++) sum += ws[p * PAGE];
		*turn = !me;
		futex(turn, wake_op, 1);
	}
	if (sum == 0xffffffff) puts("");
}

struct player { int id, cpu; };

static void *player(void *arg)
{
	struct player *pl = arg;
	if (pl->cpu >= 0 && pin(pl->cpu) != 0) exit(fail("sched_setaffinity"));
	volatile char *ws = pages > 0 ? malloc((size_t)pages * PAGE) : NULL;
	for (int p = 0; p < pages; p++) ws[p * PAGE] = (char)p;
	play(pl->id, ws);
	return NULL;
}

static volatile int stop, ready;
static volatile int *shared;

static void *spinner(void *arg)
{
	if (pin((int)(long)arg) != 0) exit(fail("sched_setaffinity"));
	__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
	long sum = 0;
	while (!stop) sum += *shared;
	return (void *)sum;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: threadbench MODE N [ARGS]\n");
		return 2;
	}
	const char *mode = argv[1];
	if (strcmp(mode, "exit") == 0) return 0;
	long n = argc > 2 ? atol(argv[2]) : 0;
	if (n < 0) return 2;
	if (strcmp(mode, "create-pthread") == 0) {
		for (long i = 0; i < n; i++) {
			pthread_t t;
			if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0) return fail("pthread_create");
		}
	} else if (strcmp(mode, "create-fork") == 0) {
		for (long i = 0; i < n; i++) {
			pid_t c = fork();
			if (c < 0) return fail("fork");
			if (c == 0) _exit(0);
			int st;
			if (waitpid(c, &st, 0) != c || st != 0) return fail("waitpid");
		}
	} else if (strcmp(mode, "create-vfork-exec") == 0) {
		for (long i = 0; i < n; i++)
			if (vfork_exec(argv[0]) != 0) return fail("vfork+exec");
	} else if (strcmp(mode, "futex-wake") == 0 || strcmp(mode, "ctxsw-thread") == 0) {
		static int word;
		turn = &word;
		rounds = n;
		wait_op = FUTEX_WAIT_PRIVATE;
		wake_op = FUTEX_WAKE_PRIVATE;
		struct player a = { 0, 0 }, b = { 1, 0 };
		if (mode[0] == 'f') {
			a.cpu = argc > 3 ? atoi(argv[3]) : 0;
			b.cpu = argc > 4 ? atoi(argv[4]) : 1;
		} else {
			pages = argc > 3 ? atoi(argv[3]) : 0;
			a.cpu = b.cpu = -1;
		}
		pthread_t ta, tb;
		if (pthread_create(&ta, NULL, player, &a) != 0 || pthread_create(&tb, NULL, player, &b) != 0) return fail("pthread_create");
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
	} else if (strcmp(mode, "ctxsw-process") == 0) {
		turn = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (turn == MAP_FAILED) return fail("mmap");
		rounds = n;
		pages = argc > 3 ? atoi(argv[3]) : 0;
		pid_t c = fork();
		if (c < 0) return fail("fork");
		struct player me = { c == 0 ? 1 : 0, -1 };
		player(&me);
		if (c == 0) _exit(0);
		int st;
		if (waitpid(c, &st, 0) != c || st != 0) return fail("waitpid");
	} else if (strcmp(mode, "shootdown") == 0) {
		int k = argc > 3 ? atoi(argv[3]) : 0;
		if (k < 0 || k > 63) return 2;
		if (pin(0) != 0) return fail("sched_setaffinity");
		char *area = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area == MAP_FAILED) return fail("mmap");
		area[0] = 1;
		area[PAGE] = 1;
		shared = (volatile int *)area;
		pthread_t t[64];
		for (long i = 0; i < k; i++)
			if (pthread_create(&t[i], NULL, spinner, (void *)(i + 1)) != 0) return fail("pthread_create");
		while (ready < k) sched_yield();
		for (long i = 0; i < n; i++)
			if (mprotect(area + PAGE, PAGE, (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ) != 0) return fail("mprotect");
		stop = 1;
		for (int i = 0; i < k; i++) pthread_join(t[i], NULL);
	} else {
		fprintf(stderr, "threadbench: unknown mode %s\n", mode);
		return 2;
	}
	printf("threadbench %s %ld: done\n", mode, n);
	return 0;
}
