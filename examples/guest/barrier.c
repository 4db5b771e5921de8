/*
 * barrier: `barrier [THREADS [STEPS]]` (default 4 × 50). A one-dimensional Jacobi relaxation of
 * 256 integer cells split between THREADS threads: in each step every thread computes its cells
 * from the previous step's array, then all meet at a pthread_barrier before the arrays swap. A
 * missing or broken barrier reads half-updated neighbours and changes the checksums. Exactly one
 * thread per step gets PTHREAD_BARRIER_SERIAL_THREAD; it records the step's checksum.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define CELLS 256
static int threads = 4;
static int steps = 50;
static long grid[2][CELLS];
static pthread_barrier_t bar;
static int serials;
static unsigned long sums[1024];

static void *relax(void *arg)
{
	int id = (int)(long)arg;
	int lo = id * CELLS / threads, hi = (id + 1) * CELLS / threads;
	for (int s = 0; s < steps; s++) {
		long *from = grid[s & 1], *to = grid[(s + 1) & 1];
		for (int i = lo; i < hi; i++) {
			long l = i > 0 ? from[i - 1] : 0, r = i < CELLS - 1 ? from[i + 1] : 1000000;
			to[i] = (l + 2 * from[i] + r) / 4;
		}
		if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD) {
			unsigned long h = 0;
			for (int i = 0; i < CELLS; i++) h = h * 31 + (unsigned long)to[i];
			sums[s] = h;
			serials++;
		}
		pthread_barrier_wait(&bar); /* nobody starts step s+1 before the checksum is taken */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1) threads = atoi(argv[1]);
	if (argc > 2) steps = atoi(argv[2]);
	if (threads < 1 || threads > 64 || steps < 1 || steps > 1024) {
		fprintf(stderr, "usage: barrier [THREADS(1-64) [STEPS(1-1024)]]\n");
		return 2;
	}
	for (int i = 0; i < CELLS; i++) grid[0][i] = (i * 7919) % 1000;
	pthread_barrier_init(&bar, NULL, threads);
	pthread_t t[64];
	for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, relax, (void *)(long)i);
	for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	printf("%d threads, %d steps, %d serial threads %s\n", threads, steps, serials, serials == steps ? "ok" : "FAIL");
	for (int s = 0; s < steps; s += steps / 5 > 0 ? steps / 5 : 1) printf("step %3d checksum %016lx\n", s, sums[s]);
	printf("step %3d checksum %016lx\n", steps - 1, sums[steps - 1]);
	long total = 0;
	for (int i = 0; i < CELLS; i++) total += grid[steps & 1][i];
	printf("final sum %ld\n", total);
	return serials == steps ? 0 : 1;
}
