/*
 * N getpid system calls (default 10000), each a real SYSCALL (musl's getpid does not cache).
 * The sandbox suite's interposition row runs it with N and with 0: the difference divided by N
 * is the cost of one intercepted call (Dune Table 3, the ptrace row).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
	long sum = 0;
	for (long i = 0; i < n; i++)
		sum += syscall(SYS_getpid) > 0;
	printf("%ld getpid calls, %ld returned a pid\n", n, sum);
	return sum == n ? 0 : 1;
}
