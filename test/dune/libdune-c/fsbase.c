/*
 * The FS base ring 0 runs with after a trap from ring 3. libDune's SYSCALL trampoline reads the
 * base the CPU holds (RDFSBASE; the module sets CR4.FSGSBASE as upstream does) and rewrites it
 * only when it is not the thread's own, so ring 0's TLS (FS-relative) is right whatever ring 3
 * did to FS: nothing, WRFSBASE (allowed at CPL 3 by CR4.FSGSBASE, SDM Vol. 3A §2.5), or a load
 * of a null selector (which clears the base on Intel, SDM Vol. 2B "MOV").
 */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "libdune/dune.h"

static char ustack[16384] __attribute__((aligned(16)));
static __thread volatile long marker = 0x1234;
static unsigned long fake_tls[1024];
static unsigned long kfs;
static volatile int tls_ok, base_ok, calls;

static unsigned long rdfsbase(void)
{
	unsigned long b;
	asm volatile("rdfsbase %0" : "=r"(b));
	return b;
}

static long u_syscall(long nr, long a0)
{
	long ret;
	asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0) : "rcx", "r11", "memory");
	return ret;
}

static void user_plain(void)
{
	u_syscall(SYS_getpid, 0);
	u_syscall(SYS_exit, 0);
}

static void user_wrfsbase(void)
{
	unsigned long fake = (unsigned long) &fake_tls[512];
	asm volatile("wrfsbase %0" : : "r"(fake) : "memory");
	u_syscall(SYS_getpid, 0);
	u_syscall(SYS_exit, 0);
}

static void user_null_fs(void)
{
	asm volatile("movl %0, %%fs" : : "r"(0) : "memory");
	u_syscall(SYS_getpid, 0);
	u_syscall(SYS_exit, 0);
}

static void syscall_handler(struct dune_tf *tf)
{
	if (tf->rax == SYS_exit)
		dune_ret_from_user((int) ARG0(tf));
	calls++;
	base_ok = rdfsbase() == kfs;
	tls_ok = marker == 0x1234;
	dune_passthrough_syscall(tf);
}

static void run(const char *what, void (*fn)(void))
{
	struct dune_tf tf;
	memset(&tf, 0, sizeof(tf));
	tf.rip = (uintptr_t) fn;
	tf.rsp = (uintptr_t) (ustack + sizeof(ustack) - 8);
	tf.rflags = 0x202;
	tls_ok = base_ok = calls = 0;
	dune_jump_to_user(&tf);
	printf("%s: handler ran %d, FS base the thread's %s, TLS %s\n", what, calls, base_ok ? "yes" : "no",
	       tls_ok ? "yes" : "no");
}

int main(void)
{
	memset(fake_tls, 0x55, sizeof(fake_tls));
	if (dune_init_and_enter()) {
		printf("dune_init_and_enter failed\n");
		return 1;
	}
	kfs = rdfsbase();
	dune_register_syscall_handler(syscall_handler);
	run("ring 3 leaves FS alone", user_plain);
	run("ring 3 WRFSBASEs", user_wrfsbase);
	run("ring 3 loads a null FS", user_null_fs);
	printf("back in ring 0: FS base the thread's %s, TLS %s\n", rdfsbase() == kfs ? "yes" : "no",
	       marker == 0x1234 ? "yes" : "no");
	return 0;
}
