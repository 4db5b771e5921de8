/*
 * Guest ring 3 by dune_jump_to_user: a syscall handler intercepts its SYSCALLs (one emulated,
 * the rest passed through to the kernel, exit ending the ring-3 run by dune_ret_from_user), and
 * ring 3 meets the walls ring 0 puts up: a privileged instruction is #GP(0), a supervisor page
 * is a protection #PF with FEC_U.
 */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "libdune/dune.h"

#define SYS_answer 1000

static char ustack[16384] __attribute__((aligned(16)));
static const char umsg[] = "ring 3 writes through a passed-through write(2)\n";
static volatile unsigned long target; /* what the ring-3 probe reads */

static long u_syscall4(long nr, long a0, long a1, long a2, long a3)
{
	long ret;
	register long r10 asm("r10") = a3;
	asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10)
		     : "rcx", "r11", "memory");
	return ret;
}

static void user_main(void)
{
	long pid = u_syscall4(SYS_getpid, 0, 0, 0, 0);
	u_syscall4(SYS_write, 1, (long) umsg, sizeof(umsg) - 1, 0);
	long answer = u_syscall4(SYS_answer, 10, 20, 3, 9);
	u_syscall4(SYS_exit, pid == 1 && answer == 42 ? 0 : 1, 0, 0, 0);
	for (;;)
		;
}

static void user_cli(void)
{
	asm volatile("cli");
	for (;;)
		;
}

static void user_probe(void)
{
	(void) *(volatile unsigned long *) target;
	for (;;)
		;
}

static volatile int nsys, passthrough, bad_frame; /* written by the handler */
static volatile long seen_arg3;

static void syscall_handler(struct dune_tf *tf)
{
	nsys++;
	if (tf->cs != (0x33) || tf->ss != (0x2b) || tf->rip < (uintptr_t) user_main)
		bad_frame++;
	switch (tf->rax) {
	case SYS_answer:
		seen_arg3 = ARG3(tf);
		tf->rax = ARG0(tf) + ARG1(tf) + ARG2(tf) + ARG3(tf);
		break;
	case SYS_exit:
		dune_ret_from_user((int) ARG0(tf));
	default:
		passthrough++;
		dune_passthrough_syscall(tf);
	}
}

static void gp_handler(struct dune_tf *tf)
{
	dune_printf("#GP from ring %d, error code %u\n", tf->cs & 3, tf->err);
	dune_ret_from_user(-13);
}

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	dune_printf("#PF from ring %d at %s, fec P=%d W=%d U=%d\n", tf->cs & 3,
		    addr == target ? "the supervisor page" : "?", !!(fec & FEC_P), !!(fec & FEC_W),
		    !!(fec & FEC_U));
	dune_ret_from_user(-14);
}

static int run(void (*fn)(void))
{
	struct dune_tf tf;
	memset(&tf, 0, sizeof(tf));
	tf.rip = (uintptr_t) fn;
	tf.rsp = (uintptr_t) (ustack + sizeof(ustack) - 8);
	tf.rflags = 0x202;
	return dune_jump_to_user(&tf);
}

int main(void)
{
	if (dune_init_and_enter()) {
		printf("dune_init_and_enter failed\n");
		return 1;
	}
	dune_register_syscall_handler(syscall_handler);
	dune_register_intr_handler(T_GPFLT, gp_handler);
	dune_register_pgflt_handler(pgflt);

	int ret = run(user_main);
	dune_printf("ring 3 returned %d: %d system calls, %d passed through, 4th argument %ld, bad frames %d\n",
		    ret, nsys, passthrough, seen_arg3, bad_frame);
	ret = run(user_cli);
	dune_printf("cli in ring 3 returned %d\n", ret);
	target = (unsigned long) pgroot; /* a pool page: supervisor-only */
	ret = run(user_probe);
	dune_printf("reading a supervisor page from ring 3 returned %d\n", ret);
	/* Ring 0 carries on, with its own FS (TLS) and GS (per-CPU area). */
	printf("back in ring 0, printf works\n");
	return 0;
}
