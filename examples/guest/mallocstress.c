/*
 * mallocstress: `mallocstress [THREADS [ALLOCS]]` (default 10 × 10000, the shape of the Dune
 * sandbox's threaded malloc test). Each thread makes ALLOCS allocations of sizes from its own
 * LCG (16 B to 4 KiB, and every 64th a 64–192 KiB block that musl serves with mmap), fills each
 * with a pattern of its own, keeps up to 32 live at once, and checks a block's pattern when it
 * frees it: a block handed to two threads, or memory another thread's free unmapped, shows up as
 * a bad pattern or a fault. Prints per-thread counts and pattern checksums.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE 32
static long allocs = 10000;

struct stats { long made, checked, bad; uint64_t digest; };
static struct stats st[64];

static void *stress(void *arg)
{
	int id = (int)(long)arg;
	struct stats *s = &st[id];
	unsigned char *live[LIVE] = { 0 };
	size_t size[LIVE] = { 0 };
	uint64_t x = 0x9e3779b97f4a7c15ULL * (id + 1);
	for (long i = 0; i < allocs; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		int slot = (int)((x >> 33) % LIVE);
		if (live[slot] != NULL) {
			unsigned char tag = (unsigned char)(id * 16 + slot);
			for (size_t k = 0; k < size[slot]; k += 61) s->bad += live[slot][k] != tag;
			s->checked++;
			s->digest = s->digest * 1099511628211ULL + size[slot];
			free(live[slot]);
		}
		size_t n = (i % 64 == 63) ? 65536 + (size_t)((x >> 20) % 131072) : 16 + (size_t)((x >> 40) % 4081);
		live[slot] = malloc(n);
		if (live[slot] == NULL) { s->bad++; break; }
		memset(live[slot], id * 16 + slot, n);
		size[slot] = n;
		s->made++;
	}
	for (int k = 0; k < LIVE; k++) free(live[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 10;
	if (argc > 2) allocs = atol(argv[2]);
	if (threads < 1 || threads > 64 || allocs < 1) {
		fprintf(stderr, "usage: mallocstress [THREADS(1-64) [ALLOCS]]\n");
		return 2;
	}
	pthread_t t[64];
	for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, stress, (void *)i);
	for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
	long bad = 0;
	for (int i = 0; i < threads; i++) {
		printf("thread %d: %ld mallocs, %ld checked, digest %016llx, %ld bad\n", i, st[i].made, st[i].checked,
		       (unsigned long long)st[i].digest, st[i].bad);
		bad += st[i].bad;
	}
	printf("%s\n", bad == 0 ? "ok" : "FAIL");
	return bad == 0 ? 0 : 1;
}
