/* Two threads that can never run again: main joins a thread that waits on a condition variable
 * nobody signals. Both sleep in futex with no timeout; the kernel must end the run with a report
 * naming each blocked thread, not hang. (Natively this program never ends.) */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;

static void *waiter(void *arg) {
  pthread_mutex_lock(&m);
  pthread_cond_wait(&c, &m);
  return arg;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, 0, waiter, 0);
  puts("waiting");
  fflush(stdout);
  pthread_join(t, 0);
  return 0;
}
