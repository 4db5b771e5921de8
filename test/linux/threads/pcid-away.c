/* A thread reads a page on CPU 1 (its translation is cached under the process's PCID there), then
 * sleeps while CPU 1 runs another process. Meanwhile the main thread on CPU 0 unmaps the page:
 * no IPI reaches CPU 1, which does not have the address space loaded. When the thread runs on
 * CPU 1 again, the switch back must flush that PCID (the address space's tlb_gen moved on), so
 * its next read faults (SIGSEGV). Reusing the PCID without a flush would read through the stale
 * translation. Natively the same program prints the same (with or without PCIDs). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "threads-test.h"

static volatile int *page;
static volatile int *flags; /* shared with the child: [0] the reader read, [1] go */
static volatile int wakeword;

static void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  if (sched_setaffinity(0, sizeof s, &s) != 0) _exit(9);
}
static void on_segv(int sig) {
  (void)sig;
  static const char msg[] = "reader: SIGSEGV after munmap\n";
  write(1, msg, sizeof msg - 1);
  flags[1] = 1; /* let the child go */
  _exit(0);
}
static void *reader(void *arg) {
  (void)arg;
  pin(1);
  int v = page[0]; /* cached under this process's PCID on CPU 1 */
  flags[0] = v;
  while (wakeword == 0) sys4(202, &wakeword, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, 0);
  v = page[0]; /* after munmap */
  printf("reader: stale read %d\n", v == 42);
  exit(3);
}
int main(void) {
  pin(0);
  signal(SIGSEGV, on_segv);
  flags = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  page[0] = 42;
  pid_t c = fork();
  if (c == 0) {
    pin(1);
    while (!flags[1]) sched_yield(); /* the other process on CPU 1 */
    _exit(0);
  }
  pthread_t t;
  pthread_create(&t, 0, reader, 0);
  while (flags[0] != 42) sched_yield();
  munmap((void *)page, 4096);
  wakeword = 1;
  sys4(202, &wakeword, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, 0);
  pthread_join(t, 0);
  return 4;
}
