/* exit_group from one thread ends the whole group — sleepers in the kernel included (a futex
 * wait, a blocking pipe read), detached or not — with its status. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "threads-test.h"

static int never;
static int fds[2];
static void *futex_sleeper(void *arg) { (void)arg; sys4(SYS_futex, &never, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, 0); return 0; }
static void *pipe_sleeper(void *arg) { (void)arg; char b; read(fds[0], &b, 1); return 0; }
static void *ender(void *arg) {
  (void)arg;
  for (int i = 0; i < 100; i++) sched_yield();
  printf("ending the group\n");
  fflush(stdout);
  sys1(SYS_exit_group, 5);
  return 0;
}
int main(void) {
  pipe(fds);
  pthread_t a, b, c;
  pthread_create(&a, 0, futex_sleeper, 0);
  pthread_create(&b, 0, pipe_sleeper, 0);
  pthread_detach(b);
  pthread_create(&c, 0, ender, 0);
  pthread_join(a, 0); /* never returns */
  printf("not reached\n");
  return 0;
}
