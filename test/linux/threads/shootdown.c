/* A thread on another CPU keeps reading a page that the main thread unmaps. With the TLB
 * shootdown its next read faults (SIGSEGV); a kernel that skipped it would let the read go
 * through a stale translation to a frame that is no longer the process's. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile int *page;
static volatile int ready, unmapped;
static void on_segv(int sig) {
  (void)sig;
  static const char msg[] = "reader: SIGSEGV after munmap\n";
  write(1, msg, sizeof msg - 1);
  _exit(0);
}
static void *reader(void *arg) {
  (void)arg;
  long sum = 0;
  for (;;) {
    sum += page[0];
    ready = 1;
    if (unmapped) break;
  }
  int v = page[0]; /* after munmap */
  printf("reader: stale read %d\n", v == 42 || v != 42);
  exit(3);
}
int main(void) {
  struct sigaction sa = { 0 };
  sa.sa_handler = on_segv;
  sigaction(SIGSEGV, &sa, 0);
  page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  page[0] = 42;
  pthread_t t;
  pthread_create(&t, 0, reader, 0);
  while (!ready) {}
  munmap((void *)page, 4096);
  unmapped = 1;
  pthread_join(t, 0);
  return 1;
}
