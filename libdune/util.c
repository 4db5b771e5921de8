/* Utilities (upstream libdune/util.c): output and exit without libc's system-call path. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "dune.h"
#include "percpu.h"

static int dune_puts(const char *buf, size_t len)
{
	return (int) dune_vmcall(SYS_write, 1, (long) buf, (long) len, 0, 0, 0);
}

int dune_printf(const char *fmt, ...)
{
	va_list args;
	char buf[1024];
	int n;

	va_start(args, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	if (n < 0)
		return n;
	if ((size_t) n >= sizeof(buf))
		n = sizeof(buf) - 1;
	return dune_puts(buf, n);
}

void *dune_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
	return (void *) dune_vmcall(SYS_mmap, (long) addr, (long) length, prot, flags, fd, offset);
}

/* Upstream makes SYS_exit; exit_group ends every thread of the process, as dying should. */
void dune_die(void)
{
	for (;;)
		dune_vmcall(SYS_exit_group, 1, 0, 0, 0, 0, 0);
}

void dune_set_user_fs(unsigned long fs_base)
{
	dune_get_percpu()->ufs_base = fs_base;
}

unsigned long dune_get_user_fs(void)
{
	return dune_get_percpu()->ufs_base;
}
