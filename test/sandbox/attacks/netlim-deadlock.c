/* Class 6: two processes, each waiting for the other for ever: the parent in wait4 for its
 * child, the child reading a pipe whose write end the parent (and the child) hold. No timer, no
 * host socket: the machine can never move again, and the run must say so, not hang. Without
 * fork (a policy refuses it) the program blocks alone in the same read. */
#include <sys/syscall.h>
#include "attack.h"

int main(void)
{
	int p[2];
	char c;
	raw6(SYS_pipe, (long)p, 0, 0, 0, 0, 0);
	long pid = raw6(SYS_fork, 0, 0, 0, 0, 0, 0);
	if (pid == 0) {
		long r = raw6(SYS_read, p[0], (long)&c, 1, 0, 0, 0);
		ESCAPED("child: read returned %ld", r);
		raw6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
	}
	printf("fork: %ld\n", pid);
	fflush(stdout);
	if (pid < 0) {
		long r = raw6(SYS_read, p[0], (long)&c, 1, 0, 0, 0);
		ESCAPED("read returned %ld", r);
		return 0;
	}
	int status;
	long w = raw6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0);
	ESCAPED("parent: wait4 returned %ld", w);
	return 0;
}
