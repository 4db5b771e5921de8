/* Threads that try to reach the sandbox runtime through clone and futex (SECURITY.md, class 9).
 *
 *   threads-clone args      from a thread made by pthread_create: clone with flags no sandboxed
 *                           thread may use (a user namespace, vfork, a new process, bits above
 *                           31, CLONE_CHILD_SETTID when the policy leaves it out), a new stack or
 *                           TLS block in runtime memory, tid words the kernel would write there
 *                           (PARENT_SETTID now, CHILD_CLEARTID at the thread's exit,
 *                           set_tid_address), futex words, requeue targets and timeouts in
 *                           runtime memory. Prints "held" for each refused call, ESCAPED for one
 *                           that went through.
 *   threads-clone confine   a thread made by pthread_create reads the runtime's thread stacks:
 *                           the thread runs in ring 3 like the first, so this is a #PF (SIGSEGV).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include "attack.h"

/* <linux/futex.h>, which musl-gcc does not see. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_OP_SET 0
#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP(op, oparg, cmp, cmparg) ((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))

/* The runtime's memory (plugins/sandbox): its stack, its argument copies, the thread slots. */
#define RUNTIME_STACK 0x70100000L
#define ARG_COPIES 0x70140000L
#define THREAD_AREA 0x71000000L

#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)

static char stack[16384] __attribute__((aligned(16)));
static int tidword;

static void expect(const char *what, long got, long want)
{
	if (got == want)
		HELD("%s: %ld", what, got);
	else
		ESCAPED("%s: %ld, not %ld", what, got, want);
}

static void *attacker(void *arg)
{
	(void)arg;
	long top = (long)(stack + sizeof stack);
	/* Flags: each is a thread of this group but for the flag named, and is denied. */
	expect("clone CLONE_NEWUSER", raw6(SYS_clone, THREAD_FLAGS | CLONE_NEWUSER, top, 0, 0, 0, 0), -1);
	expect("clone CLONE_VFORK", raw6(SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, top, 0, 0, 0, 0), -1);
	expect("clone of a new process (SIGCHLD)", raw6(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0), -1);
	expect("clone CLONE_PTRACE", raw6(SYS_clone, THREAD_FLAGS | CLONE_PTRACE, top, 0, 0, 0, 0), -1);
	expect("clone with bit 32", raw6(SYS_clone, THREAD_FLAGS | (1L << 32), top, 0, 0, 0, 0), -1);
	expect("clone CLONE_CHILD_SETTID (not in cloneFlags)", raw6(SYS_clone, THREAD_FLAGS | CLONE_CHILD_SETTID, top, 0, (long)&tidword, 0, 0), -1);
	/* Pointers: -EFAULT, nothing made. */
	expect("clone with the stack on the runtime's stack", raw6(SYS_clone, THREAD_FLAGS, RUNTIME_STACK + 0x1000, 0, 0, 0, 0), -14);
	expect("clone with the stack on a thread slot", raw6(SYS_clone, THREAD_FLAGS, THREAD_AREA + 0x8000, 0, 0, 0, 0), -14);
	expect("clone with TLS in the argument copies", raw6(SYS_clone, THREAD_FLAGS | CLONE_SETTLS, top, 0, 0, ARG_COPIES, 0), -14);
	expect("clone with PARENT_SETTID into the runtime's stack", raw6(SYS_clone, THREAD_FLAGS | CLONE_PARENT_SETTID, top, RUNTIME_STACK + 0x3fff0, 0, 0, 0), -14);
	expect("clone with CHILD_CLEARTID into the runtime's stack", raw6(SYS_clone, THREAD_FLAGS | CLONE_CHILD_CLEARTID, top, 0, RUNTIME_STACK + 0x3fff0, 0, 0), -14);
	expect("clone with no stack", raw6(SYS_clone, THREAD_FLAGS, 0, 0, 0, 0, 0), -22);
	expect("set_tid_address into the argument copies", raw6(SYS_set_tid_address, ARG_COPIES, 0, 0, 0, 0, 0), -14);
	expect("set_robust_list in the runtime's stack", raw6(SYS_set_robust_list, RUNTIME_STACK, 24, 0, 0, 0, 0), -14);
	/* futex: a WAIT on a runtime word would tell its value (-EAGAIN or a sleep), a WAKE_OP write it. */
	expect("futex WAIT on the runtime's stack", raw6(SYS_futex, RUNTIME_STACK + 0x100, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0), -14);
	expect("futex WAKE on the argument copies", raw6(SYS_futex, ARG_COPIES, FUTEX_WAKE, 1, 0, 0, 0), -14);
	expect("futex WAKE_OP writing the runtime's stack", raw6(SYS_futex, (long)&tidword, FUTEX_WAKE_OP, 1, 1, RUNTIME_STACK + 0x100, FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)), -14);
	expect("futex CMP_REQUEUE onto a thread slot", raw6(SYS_futex, (long)&tidword, FUTEX_CMP_REQUEUE, 1, 1, THREAD_AREA + 0x2000, 0), -14);
	expect("futex WAIT with its timeout in runtime memory", raw6(SYS_futex, (long)&tidword, FUTEX_WAIT, 0, RUNTIME_STACK + 0x100, 0, 0), -14);
	/* The same calls on the program's own memory work: WAKE wakes no one, WAIT times out at once. */
	static struct { long s, ns; } zero;
	expect("futex WAKE on the program's word", raw6(SYS_futex, (long)&tidword, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0), 0);
	expect("futex WAIT with a zero timeout", raw6(SYS_futex, (long)&tidword, FUTEX_WAIT_PRIVATE, 0, (long)&zero, 0, 0), -110);
	return 0;
}

static void *reader(void *arg)
{
	(void)arg;
	volatile long *p = (volatile long *)(THREAD_AREA + 0x8000);
	long v = *p;
	ESCAPED("a thread read the runtime's thread stacks: %lx", v);
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "args";
	pthread_t t;
	if (pthread_create(&t, 0, strcmp(what, "confine") == 0 ? reader : attacker, 0) != 0) {
		printf("pthread_create failed\n");
		return 1;
	}
	pthread_join(t, 0);
	printf("main: joined\n");
	return 0;
}
