/*
 * ptexec: what a tracer sees when its tracee calls execve(2) (ptrace(2), "execve(2) under
 * ptrace"). Twice, a child asks to be traced, stops itself with SIGSTOP, and execs this program
 * again ("exit-with N"), which exits N:
 *   - without PTRACE_O_TRACEEXEC the exec sends the child a plain SIGTRAP, which the tracer sees
 *     as a signal-delivery stop and suppresses;
 *   - with PTRACE_O_TRACEEXEC the exec stops the child with status SIGTRAP | PTRACE_EVENT_EXEC << 8
 *     instead, and no SIGTRAP follows.
 * Prints each stop the tracer collects, and the child's exit status.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static void describe(int status)
{
	if (WIFEXITED(status))
		printf("  exited %d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("  killed by signal %d\n", WTERMSIG(status));
	else if (WIFSTOPPED(status))
		printf("  stopped: signal %d, event %d\n", WSTOPSIG(status), (status >> 16) & 0xff);
	else
		printf("  status 0x%x\n", status);
}

static int run(const char *self, int options, const char *code)
{
	pid_t child = fork();
	if (child == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		char *argv[] = { (char *)self, "exit-with", (char *)code, NULL };
		char *envp[] = { NULL };
		execve(self, argv, envp);
		_exit(100);
	}
	int status;
	for (int stops = 0; stops < 5; stops++) {
		if (waitpid(child, &status, 0) != child) {
			printf("  waitpid failed\n");
			return 1;
		}
		describe(status);
		if (!WIFSTOPPED(status))
			return 0;
		if (WSTOPSIG(status) == SIGSTOP && options != 0)
			ptrace(PTRACE_SETOPTIONS, child, 0, options);
		/* Suppress the stop's signal: SIGSTOP, and the exec's SIGTRAP. */
		ptrace(PTRACE_CONT, child, 0, 0);
	}
	printf("  too many stops\n");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "exit-with") == 0)
		return atoi(argv[2]);
	/* argv[0] is how we were started; exec needs a path, found like execvp would. */
	const char *self = strchr(argv[0], '/') != NULL ? argv[0] : "./ptexec";
	if (access(self, X_OK) != 0) {
		static char path[4096];
		const char *p = getenv("PATH");
		snprintf(path, sizeof path, "%.*s/ptexec", p ? (int)strcspn(p, ":") : 1, p ? p : ".");
		self = path;
	}
	printf("traced exec, no options:\n");
	int r = run(self, 0, "9");
	printf("traced exec, PTRACE_O_TRACEEXEC:\n");
	r |= run(self, PTRACE_O_TRACEEXEC, "11");
	return r;
}
