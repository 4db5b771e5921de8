/* Two threads that never enter the kernel while they wait for each other: on one CPU only the
 * scheduler tick lets the second run (a task that never makes a system call is preempted). */
#include <pthread.h>
#include <stdio.h>

static volatile int ping, pong;
static void *other(void *arg) {
  (void)arg;
  while (!ping) {}
  pong = 1;
  return 0;
}
int main(void) {
  pthread_t t;
  pthread_create(&t, 0, other, 0);
  ping = 1;
  while (!pong) {}
  pthread_join(t, 0);
  printf("both ran\n");
  return 0;
}
