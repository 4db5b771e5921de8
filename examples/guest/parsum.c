/*
 * parsum: `parsum [THREADS [N]]` (default 4, N = 2000000). Sums f(i) = i*i mod 1000003 for
 * i < N in THREADS threads, each over its own contiguous slice of a malloc'd array it fills
 * itself, and checks the total against a single-threaded sum. Each thread returns its partial
 * sum through pthread_join.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long n = 2000000;
static int threads = 4;
static unsigned *values;

static void *slice(void *arg)
{
	long id = (long)arg;
	long lo = id * n / threads, hi = (id + 1) * n / threads;
	unsigned long sum = 0;
	for (long i = lo; i < hi; i++) {
		values[i] = (unsigned)((unsigned long)i * (unsigned long)i % 1000003);
		sum += values[i];
	}
	return (void *)sum;
}

int main(int argc, char **argv)
{
	if (argc > 1) threads = atoi(argv[1]);
	if (argc > 2) n = atol(argv[2]);
	if (threads < 1 || threads > 64 || n < 1) {
		fprintf(stderr, "usage: parsum [THREADS(1-64) [N]]\n");
		return 2;
	}
	values = malloc(n * sizeof *values);
	if (values == NULL) return 1;
	pthread_t t[64];
	for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, slice, (void *)i);
	unsigned long total = 0;
	for (int i = 0; i < threads; i++) {
		void *part;
		pthread_join(t[i], &part);
		printf("thread %d: %lu\n", i, (unsigned long)part);
		total += (unsigned long)part;
	}
	unsigned long check = 0;
	for (long i = 0; i < n; i++) check += (unsigned long)i * (unsigned long)i % 1000003;
	unsigned long stored = 0;
	for (long i = 0; i < n; i++) stored += values[i];
	printf("total %lu, serial %lu, stored %lu: %s\n", total, check, stored, total == check && stored == check ? "ok" : "FAIL");
	free(values);
	return total == check ? 0 : 1;
}
