/* futex(2) between threads: WAIT/WAKE counts, bitsets, REQUEUE, CMP_REQUEUE, WAKE_OP, timeouts,
 * and a shared futex between two processes (kernel/futex.c). */
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "threads-test.h"

static int word, word2;
static volatile int started, woken_count;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

struct waitarg { int *addr; int bitset; };
static void *waiter(void *p) {
  struct waitarg *a = p;
  __atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
  long r = a->bitset ? sys6(SYS_futex, (long)a->addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, 0, 0, a->bitset)
                     : sys4(SYS_futex, a->addr, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, 0);
  if (r == 0) __atomic_fetch_add(&woken_count, 1, __ATOMIC_SEQ_CST);
  return (void *)r;
}
/* The waiters said they are about to wait; a 20 ms sleep lets each reach the kernel's queue. */
static void wait_started(int n) {
  while (started < n) sched_yield();
  struct timespec ts = { 0, 20000000 };
  nanosleep(&ts, 0);
}

int main(void) {
  pthread_t t[4];
  struct waitarg plain = { &word, 0 };
  /* Three waiters, WAKE 2 wakes two, WAKE 5 the last. */
  for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, waiter, &plain);
  wait_started(3);
  CHECK("wake 2 of 3", sys3(SYS_futex, &word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 2), 2);
  CHECK("wake the rest", sys3(SYS_futex, &word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 5), 1);
  for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
  CHECK("all three woke with 0", woken_count, 3);
  /* Bitsets: a WAKE_BITSET wakes only the waiters whose bitset meets it. */
  started = 0;
  struct waitarg b1 = { &word, 1 }, b2 = { &word, 2 };
  pthread_create(&t[0], 0, waiter, &b1);
  pthread_create(&t[1], 0, waiter, &b2);
  wait_started(2);
  CHECK("wake bitset 2", sys6(SYS_futex, (long)&word, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 10, 0, 0, 2), 1);
  CHECK("wake bitset 1", sys6(SYS_futex, (long)&word, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 10, 0, 0, 1), 1);
  pthread_join(t[0], 0);
  pthread_join(t[1], 0);
  /* REQUEUE: wake one, move two to word2, then those two are woken through word2. */
  started = 0;
  for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, waiter, &plain);
  wait_started(3);
  CHECK("cmp_requeue with a stale value", sys6(SYS_futex, (long)&word, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG, 1, 2, (long)&word2, 99), -11);
  CHECK("cmp_requeue wakes 1 + moves 2", sys6(SYS_futex, (long)&word, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG, 1, 2, (long)&word2, 0), 3);
  CHECK("nobody left on word", sys3(SYS_futex, &word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 10), 0);
  CHECK("two on word2", sys3(SYS_futex, &word2, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 10), 2);
  for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
  /* WAKE_OP: word2 += 5 (old 0 == 0: also wake on word2). */
  started = 0;
  struct waitarg w2 = { &word2, 0 };
  pthread_create(&t[0], 0, waiter, &plain);
  pthread_create(&t[1], 0, waiter, &w2);
  wait_started(2);
  CHECK("wake_op wakes one on each", sys6(SYS_futex, (long)&word, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, 1, (long)&word2, FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 0)), 2);
  CHECK("word2 after the op", word2, 5);
  pthread_join(t[0], 0);
  pthread_join(t[1], 0);
  /* Timeouts: relative for WAIT, absolute CLOCK_MONOTONIC for WAIT_BITSET. */
  struct timespec rel = { 0, 3000000 }, t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK("wait times out", sys4(SYS_futex, &word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, &rel), -110);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
  printf("slept at least 3 ms: %d\n", ns >= 3000000);
  struct timespec abs = t1;
  abs.tv_nsec += 1000000;
  if (abs.tv_nsec >= 1000000000L) { abs.tv_sec++; abs.tv_nsec -= 1000000000L; }
  CHECK("bitset wait times out at the deadline", sys6(SYS_futex, (long)&word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, (long)&abs, 0, -1), -110);
  CHECK("wait with a wrong value", sys4(SYS_futex, &word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 1, 0), -11);
  CHECK("misaligned", sys4(SYS_futex, (char *)&word + 1, FUTEX_WAKE, 1, 0), -22);
  /* A shared futex: parent and child meet on the page, not on an address of one process. */
  int *shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  pid_t pid = fork();
  if (pid == 0) {
    while (sys4(SYS_futex, shared, FUTEX_WAIT, 0, 0) != 0 && *shared == 0) {}
    _exit(*shared);
  }
  /* Wake until the child was there to be woken (it may not have slept yet). */
  long n = 0;
  *shared = 7;
  for (int i = 0; i < 1000 && n == 0; i++) { n = sys3(SYS_futex, shared, FUTEX_WAKE, 1); sched_yield(); }
  int st;
  waitpid(pid, &st, 0);
  printf("shared futex child exit: %d\n", WEXITSTATUS(st));
  pthread_mutex_lock(&mu);
  pthread_mutex_unlock(&mu);
  return 0;
}
