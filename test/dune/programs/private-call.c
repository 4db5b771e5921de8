/* Calls system call 1000, which Linux does not have: -ENOSYS on Linux, whatever a plugin's
 * SyscallContribution returns on the model. Prints the result of 1000(6, 7) and of 1001(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(void) {
  long r = syscall(1000, 6L, 7L);
  printf("1000(6, 7) = %ld%s%s\n", r, r < 0 ? " errno " : "", r < 0 ? strerror(errno) : "");
  r = syscall(1001);
  printf("1001() = %ld%s%s\n", r, r < 0 ? " errno " : "", r < 0 ? strerror(errno) : "");
  return 0;
}
