/*
 * N getpid system calls (default 10000), each a real SYSCALL (musl's getpid does not cache).
 * The sandbox suite's interposition row runs it with N and with 0: the difference divided by N
 * is the cost of one intercepted call (Dune Table 3, the ptrace row).
 *
 * With "ptrace" as the second argument the calls are made by a child traced by this process, which
 * stops it at every system-call entry and exit (PTRACE_SYSCALL) and lets each call through: the
 * Linux way of interposing, as the paper's bench_linux.c measures it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long calls(long n)
{
	long sum = 0;
	for (long i = 0; i < n; i++)
		sum += syscall(SYS_getpid) > 0;
	return sum;
}

static int traced(long n)
{
	pid_t child = fork();
	if (child < 0)
		return 2;
	if (child == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(3);
		raise(SIGSTOP);
		_exit(calls(n) == n ? 0 : 1);
	}
	long stops = 0;
	int status;
	for (;;) {
		if (waitpid(child, &status, 0) != child)
			return 4;
		if (WIFEXITED(status))
			break;
		stops++;
		if (ptrace(PTRACE_SYSCALL, child, 0, 0) < 0)
			return 5;
	}
	/* Two stops per call (entry and exit) for the loop; the rest are the SIGSTOP and exit_group. */
	printf("%ld getpid calls under ptrace, %s, %s\n", n, stops >= 2 * n ? "every one stopped twice" : "calls missed",
	       WEXITSTATUS(status) == 0 ? "each returned a pid" : "some failed");
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
	if (argc > 2 && strcmp(argv[2], "ptrace") == 0)
		return traced(n);
	long sum = calls(n);
	printf("%ld getpid calls, %ld returned a pid\n", n, sum);
	return sum == n ? 0 : 1;
}
