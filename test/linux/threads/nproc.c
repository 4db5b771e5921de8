/* Threads until the kernel says no: pthread_create fails with EAGAIN at the task limit
 * (RLIMIT_NPROC / kernel.threads-max), and every thread created can still be joined. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int release;
static void *sleeper(void *arg) {
  (void)arg;
  pthread_mutex_lock(&m);
  while (!release) pthread_cond_wait(&c, &m);
  pthread_mutex_unlock(&m);
  return 0;
}
int main(int argc, char **argv) {
  int max = argc > 1 ? atoi(argv[1]) : 10000;
  pthread_t *t = malloc(sizeof *t * max);
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, 16384);
  int n = 0, err = 0;
  while (n < max && (err = pthread_create(&t[n], &a, sleeper, 0)) == 0) n++;
  printf("created %d, then %s\n", n, err == EAGAIN ? "EAGAIN" : err == 0 ? "none" : "other error");
  pthread_mutex_lock(&m);
  release = 1;
  pthread_cond_broadcast(&c);
  pthread_mutex_unlock(&m);
  for (int i = 0; i < n; i++) pthread_join(t[i], 0);
  printf("joined %d\n", n);
  return 0;
}
