/*
 * prodcons: `prodcons [ITEMS]` (default 20000 per producer). Two producers and two consumers
 * share a bounded ring of 8 slots guarded by one mutex and two condition variables (not full,
 * not empty). Each item carries its producer and a sequence number; the ring is FIFO, so the
 * consumers, taking items under the lock, must see each producer's numbers in increasing order.
 * A sentinel per consumer ends the run. Prints only totals, which do not depend on which
 * consumer got which item.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS 8
#define PRODUCERS 2
#define CONSUMERS 2
static long ring[SLOTS];
static int head, count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static long items = 20000;
static long last_seq[PRODUCERS];
static long got[PRODUCERS];
static unsigned long sum[PRODUCERS];
static int out_of_order;
static long full_waits, empty_waits;

static void put(long v)
{
	pthread_mutex_lock(&lock);
	while (count == SLOTS) { full_waits++; pthread_cond_wait(&not_full, &lock); }
	ring[(head + count) % SLOTS] = v;
	count++;
	pthread_cond_signal(&not_empty);
	pthread_mutex_unlock(&lock);
}

static void *producer(void *arg)
{
	long id = (long)arg;
	for (long s = 1; s <= items; s++) put(id << 32 | s);
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (count == 0) { empty_waits++; pthread_cond_wait(&not_empty, &lock); }
		long v = ring[head];
		head = (head + 1) % SLOTS;
		count--;
		if (v >= 0) {
			int p = (int)(v >> 32);
			long s = v & 0xffffffff;
			if (s != last_seq[p] + 1) out_of_order++;
			last_seq[p] = s;
			got[p]++;
			sum[p] += (unsigned long)s;
		}
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&lock);
		if (v < 0) return NULL;
	}
}

int main(int argc, char **argv)
{
	if (argc > 1) items = atol(argv[1]);
	if (items < 1 || items > 1000000000) {
		fprintf(stderr, "usage: prodcons [ITEMS]\n");
		return 2;
	}
	pthread_t p[PRODUCERS], c[CONSUMERS];
	for (long i = 0; i < CONSUMERS; i++) pthread_create(&c[i], NULL, consumer, NULL);
	for (long i = 0; i < PRODUCERS; i++) pthread_create(&p[i], NULL, producer, (void *)i);
	for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], NULL);
	for (int i = 0; i < CONSUMERS; i++) put(-1);
	for (int i = 0; i < CONSUMERS; i++) pthread_join(c[i], NULL);
	int ok = out_of_order == 0;
	for (int i = 0; i < PRODUCERS; i++) {
		unsigned long want = (unsigned long)items * (items + 1) / 2;
		printf("producer %d: %ld items, sum %lu %s\n", i, got[i], sum[i], got[i] == items && sum[i] == want ? "ok" : "FAIL");
		ok &= got[i] == items && sum[i] == want;
	}
	printf("FIFO order per producer: %s\n", out_of_order == 0 ? "ok" : "FAIL");
	printf("ring empty at the end: %s\n", count == 0 ? "ok" : "FAIL");
	return ok ? 0 : 1;
}
