#define _GNU_SOURCE
/* clone(2)'s flag rules, thread identity and thread-directed signals (kernel/fork.c, signal.c). */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sched.h>
#include "threads-test.h"

static volatile long handler_tid;
static void on_usr1(int sig) { (void)sig; handler_tid = sys0(SYS_gettid); }
static volatile int go;
static long worker_tid;
static void *worker(void *arg) {
  (void)arg;
  worker_tid = sys0(SYS_gettid);
  while (!go) sched_yield();
  return (void *)(long)(sys0(SYS_getpid) == getpid());
}
static volatile int quitting;
static void *quitter(void *arg) {
  (void)arg;
  pthread_detach(pthread_self());
  quitting = 1;
  sys1(SYS_exit, 0); /* this thread only: the process goes on */
  return 0;
}

int main(void) {
  CHECK("clone THREAD without SIGHAND", sys6(SYS_clone, CLONE_THREAD | CLONE_VM, 0, 0, 0, 0, 0), -22);
  CHECK("clone SIGHAND without VM", sys6(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0, 0), -22);
  CHECK("clone NEWNS|FS", sys6(SYS_clone, CLONE_NEWNS | CLONE_FS, 0, 0, 0, 0, 0), -22);
  signal(SIGUSR1, on_usr1);
  pthread_t t, q;
  pthread_create(&t, 0, worker, 0);
  while (worker_tid == 0) sched_yield();
  printf("worker tid differs from pid: %d\n", worker_tid != getpid());
  printf("tgkill wrong group: %ld\n", sys3(SYS_tgkill, getpid() + 1000, worker_tid, SIGUSR1));
  /* A thread-directed signal runs its handler on that thread. */
  sys3(SYS_tgkill, getpid(), worker_tid, SIGUSR1);
  while (handler_tid == 0) sched_yield();
  printf("handler ran on the worker: %d\n", handler_tid == worker_tid);
  pthread_create(&q, 0, quitter, 0);
  go = 1;
  void *same;
  pthread_join(t, &same);
  printf("worker saw the group's pid: %ld\n", (long)same);
  while (!quitting) sched_yield();
  for (int i = 0; i < 100; i++) sched_yield();
  printf("alive after a thread's exit\n");
  return 0;
}
