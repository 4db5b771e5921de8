/* A robust mutex in shared memory whose owner dies holding it: the kernel walks the dead task's
 * robust list, marks the lock FUTEX_OWNER_DIED and wakes a waiter, so the next locker gets
 * EOWNERDEAD (kernel/futex.c exit_robust_list). The owner is a forked child that _exits: no
 * user-space code of musl runs after it, only the kernel's exit path. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  pthread_mutex_t *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  volatile int *locked = (volatile int *)(m + 1);
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(m, &a);
  pid_t pid = fork();
  if (pid == 0) {
    pthread_mutex_lock(m);
    *locked = 1;
    for (volatile int i = 0; i < 20000; i++) {}
    _exit(0); /* dies holding the lock */
  }
  while (!*locked) sched_yield();
  int r = pthread_mutex_lock(m); /* waits in the kernel until the owner's death wakes it */
  printf("lock after the owner died: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : "other");
  pthread_mutex_consistent(m);
  pthread_mutex_unlock(m);
  printf("relock: %d\n", pthread_mutex_lock(m));
  waitpid(pid, 0, 0);
  return 0;
}
