/* Check-then-use: the sandbox must give the kernel the bytes it checked. A sibling thread could
 * rewrite an argument buffer between the runtime's check and the kernel's read; the kernel model
 * has no threads in a sandboxed process, so test/sandbox/width-copies.test.ts plays that thread:
 * when the kernel dispatches the call, it rewrites the program's buffer first (the address comes
 * from the "buf" lines below). The program prints what the kernel actually did.
 *
 * 1. open(path): checked as "/pub/file" (read-only rule), rewritten to "/secret/key" (none).
 * 2. writev(1, iov): checked with iov_base at "hello", rewritten to the runtime's stack.
 */
#include "attack.h"
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static char path[64] = "/pub/file";
static char hello[8] = "hello\n";
static struct iovec iov[1];

int main(void)
{
	printf("buf path %p\n", (void *)path);
	iov[0].iov_base = hello;
	iov[0].iov_len = 6;
	printf("buf iov %p\n", (void *)iov);
	fflush(stdout);
	long fd = raw6(SYS_open, (long)path, O_RDONLY, 0, 0, 0, 0);
	char got[64] = {0};
	if (fd >= 0) raw6(SYS_read, fd, (long)got, sizeof got - 1, 0, 0, 0);
	if (strncmp(got, "the key", 7) == 0)
		ESCAPED("open: the kernel opened the rewritten path (/secret/key)");
	else
		HELD("open: the kernel opened what was checked (%ld, \"%.6s\")", fd, got);
	long n = raw6(SYS_writev, 1, (long)iov, 1, 0, 0, 0);
	printf("\nwritev %ld\n", n);
	return 0;
}
