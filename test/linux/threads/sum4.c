/* Four threads add up slices of an array under a mutex and a barrier: the same sum on any
 * number of CPUs, and (on the model) the same cycles and counts on every run. */
#include <pthread.h>
#include <stdio.h>

#define N 4
#define LEN 20000
static int data[LEN];
static long total;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t bar;
static void *part(void *arg) {
  long id = (long)arg, s = 0;
  for (long i = id; i < LEN; i += N) s += data[i] * (i % 7);
  pthread_barrier_wait(&bar);
  pthread_mutex_lock(&m);
  total += s;
  pthread_mutex_unlock(&m);
  return 0;
}
int main(void) {
  for (int i = 0; i < LEN; i++) data[i] = i;
  pthread_barrier_init(&bar, 0, N);
  pthread_t t[N];
  for (long i = 0; i < N; i++) pthread_create(&t[i], 0, part, (void *)i);
  for (int i = 0; i < N; i++) pthread_join(t[i], 0);
  printf("sum %ld\n", total);
  return 0;
}
