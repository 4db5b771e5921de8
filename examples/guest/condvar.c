/*
 * condvar: `condvar [THREADS [ROUNDS]]` (default 3 × 200). THREADS threads take turns in a fixed
 * order, each waiting on one condition variable until the shared turn number is its own, then
 * passing the turn on with pthread_cond_broadcast: the log of who ran when is the same on any
 * number of CPUs. Then a pthread_cond_signal hand-off between two threads, and a
 * pthread_cond_timedwait that times out (ETIMEDOUT) because nobody signals.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int threads = 3;
static int rounds = 200;
static int turn;
static unsigned char *log_;
static int logged;

static void *player(void *arg)
{
	int id = (int)(long)arg;
	for (int r = 0; r < rounds; r++) {
		pthread_mutex_lock(&lock);
		while (turn % threads != id) pthread_cond_wait(&turn_changed, &lock);
		log_[logged++] = (unsigned char)id;
		turn++;
		pthread_cond_broadcast(&turn_changed);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int box;

static void *receiver(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (box == 0) pthread_cond_wait(&ready, &lock);
	int got = box;
	pthread_mutex_unlock(&lock);
	return (void *)(long)got;
}

int main(int argc, char **argv)
{
	if (argc > 1) threads = atoi(argv[1]);
	if (argc > 2) rounds = atoi(argv[2]);
	if (threads < 1 || threads > 32 || rounds < 1) {
		fprintf(stderr, "usage: condvar [THREADS(1-32) [ROUNDS]]\n");
		return 2;
	}
	log_ = malloc((size_t)threads * rounds);
	pthread_t t[32];
	for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, player, (void *)(long)i);
	for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
	int inorder = 1;
	for (int i = 0; i < logged; i++) inorder &= log_[i] == i % threads;
	printf("%d threads x %d rounds: %d turns, %s\n", threads, rounds, logged, inorder ? "in order" : "OUT OF ORDER");
	printf("first turns:");
	for (int i = 0; i < logged && i < 12; i++) printf(" %d", log_[i]);
	printf("\n");

	pthread_t r;
	pthread_create(&r, NULL, receiver, NULL);
	pthread_mutex_lock(&lock);
	box = 4711;
	pthread_cond_signal(&ready);
	pthread_mutex_unlock(&lock);
	void *got;
	pthread_join(r, &got);
	printf("signal hand-off: %ld\n", (long)got);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 2000000; /* 2 ms */
	if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
	pthread_mutex_lock(&lock);
	int e = pthread_cond_timedwait(&ready, &lock, &ts);
	pthread_mutex_unlock(&lock);
	printf("timedwait with no signal: %s\n", e == ETIMEDOUT ? "ETIMEDOUT" : "FAIL");
	free(log_);
	return inorder && logged == threads * rounds && e == ETIMEDOUT ? 0 : 1;
}
