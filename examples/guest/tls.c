/*
 * tls: thread-local storage. An initialised __thread variable (.tdata) and a zeroed one (.tbss)
 * must start with their image values in every thread, whatever the main thread did to its own
 * copies; each thread's copies live at its own addresses (checked, not printed); pthread keys
 * hold a value per thread and run their destructor at each thread's exit, not at the main
 * thread's return. musl reaches the TLS through FS (set with CLONE_SETTLS for each thread).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define THREADS 6
static __thread long counter = 1000;
static __thread char name[16];
static __thread long zeroed[64];
static pthread_key_t key;
static int destructed;
static long destructed_sum;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t addr[THREADS + 1];

static void destroy(void *v)
{
	pthread_mutex_lock(&lock);
	destructed++;
	destructed_sum += (long)(intptr_t)v;
	pthread_mutex_unlock(&lock);
}

struct result { long start, end; int zero_ok, name_ok; };
static struct result res[THREADS];

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	struct result *r = &res[id];
	r->start = counter;
	int z = 1;
	for (int i = 0; i < 64; i++) z &= zeroed[i] == 0;
	r->zero_ok = z && name[0] == 0;
	snprintf(name, sizeof name, "worker-%d", id);
	for (int i = 0; i <= id * 100; i++) counter++;
	zeroed[id] = id;
	pthread_setspecific(key, (void *)(intptr_t)(id + 1));
	addr[id] = (uintptr_t)&counter;
	sched_yield();
	char want[16];
	snprintf(want, sizeof want, "worker-%d", id);
	r->name_ok = strcmp(name, want) == 0 && (intptr_t)pthread_getspecific(key) == id + 1;
	r->end = counter;
	return NULL;
}

int main(void)
{
	pthread_key_create(&key, destroy);
	counter = -5;
	strcpy(name, "main");
	zeroed[0] = 99;
	pthread_setspecific(key, (void *)(intptr_t)1000);
	addr[THREADS] = (uintptr_t)&counter;
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
	int ok = 1;
	for (int i = 0; i < THREADS; i++) {
		struct result *r = &res[i];
		int good = r->start == 1000 && r->end == 1000 + i * 100 + 1 && r->zero_ok && r->name_ok;
		printf("thread %d: counter %ld -> %ld, fresh .tbss %s, own name and key %s\n", i, r->start, r->end,
		       r->zero_ok ? "yes" : "NO", r->name_ok ? "yes" : "NO");
		ok &= good;
	}
	int distinct = 1;
	for (int i = 0; i <= THREADS; i++)
		for (int j = i + 1; j <= THREADS; j++) distinct &= addr[i] != addr[j];
	printf("7 distinct addresses of counter: %s\n", distinct ? "yes" : "NO");
	printf("main's copies untouched: %s\n", counter == -5 && strcmp(name, "main") == 0 && zeroed[0] == 99 ? "yes" : "NO");
	printf("key destructor ran %d times, values sum %ld\n", destructed, destructed_sum);
	ok &= distinct && destructed == THREADS && destructed_sum == THREADS * (THREADS + 1) / 2;
	return ok ? 0 : 1;
}
