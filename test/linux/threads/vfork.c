/* vfork: the child borrows the parent's memory and the parent sleeps until the child exits (or
 * execs); what the child wrote is there when the parent goes on. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int written;
int main(void) {
  pid_t pid = vfork();
  if (pid == 0) {
    written = 42; /* the parent's memory: the address space is shared */
    _exit(7);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("parent sees %d, child status %d\n", written, WEXITSTATUS(st));
  return 0;
}
