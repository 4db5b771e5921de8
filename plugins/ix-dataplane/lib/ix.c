/* libix, ring-0 half and the ring-3 entry: see ix.h. */
#include <string.h>
#include <sys/syscall.h>

#include "libdune/dune.h"
#include "ix.h"

static char region_mem[IX_MAX_THREADS * IX_REGION_SIZE + 0x200000] __attribute__((aligned(4096)));
static int regions_taken;
__thread char *ix_region;
__thread struct bsys_desc *ix_karr;
__thread const struct ix_event *ix_events;
static __thread long (*dp_entry)(uint64_t, uint64_t);

/* Ring 0: IX calls go to the dataplane (no VM exit); exit ends the ring-3 run; the rest is POSIX. */
static void ix_syscall(struct dune_tf *tf)
{
	if (tf->rax == IX_SYS_BPOLL) {
		tf->rax = dp_entry(ARG0(tf), ARG1(tf));
		return;
	}
	if (tf->rax == SYS_exit || tf->rax == SYS_exit_group)
		dune_ret_from_user((int) ARG0(tf));
	dune_passthrough_syscall(tf);
}

int ix_init(int batch)
{
	if (dune_init_and_enter())
		return -1;
	return ix_init_thread(batch);
}

int ix_init_thread(int batch)
{
	long ret;
	int k = __atomic_fetch_add(&regions_taken, 1, __ATOMIC_RELAXED);

	if (k >= IX_MAX_THREADS)
		return -12; /* -ENOMEM: no region left */
	ix_region = (char *) (((uintptr_t) region_mem + 0x1fffff) & ~0x1fffffUL) + (size_t) k * IX_REGION_SIZE;
	/* Touch every page: present on the host and in the EPT before the NIC is given them. */
	memset(ix_region, 0, IX_REGION_SIZE);
	dune_vm_mprotect(pgroot, ix_region, IX_REGION_SIZE, PERM_R | PERM_W);
	dune_vm_mprotect(pgroot, ix_region, 4096, PERM_R | PERM_W | PERM_X);
	dune_vm_mprotect(pgroot, ix_region + IX_REGION_CALLS, IX_REGION_EVENTS - IX_REGION_CALLS, PERM_R | PERM_W | PERM_U);
	dune_vm_mprotect(pgroot, ix_region + IX_REGION_EVENTS, IX_REGION_TXBUF - IX_REGION_EVENTS, PERM_R | PERM_U);
	dune_vm_mprotect(pgroot, ix_region + IX_REGION_MBUFS, IX_REGION_SIZE - IX_REGION_MBUFS, PERM_R | PERM_U);
	asm volatile("vmcall" : "=a"(ret) : "a"(IX_VMCALL_SETUP), "D"(ix_region), "S"((long) batch) : "memory");
	if (ret < 0)
		return (int) ret;
	dp_entry = (long (*)(uint64_t, uint64_t)) ret;
	ix_karr = (struct bsys_desc *) (ix_region + IX_REGION_CALLS);
	ix_events = (const struct ix_event *) (ix_region + IX_REGION_EVENTS);
	dune_register_syscall_handler(ix_syscall);
	return 0;
}

int ix_run(void (*fn)(void), void *stack, size_t stack_size)
{
	struct dune_tf tf;

	memset(&tf, 0, sizeof(tf));
	tf.rip = (uintptr_t) fn;
	tf.rsp = ((uintptr_t) stack + stack_size - 8) & ~15UL;
	tf.rsp -= 8;
	tf.rflags = 0x202;
	return dune_jump_to_user(&tf);
}

long ix_bpoll(struct bsys_desc *descs, unsigned long n)
{
	long ret;
	asm volatile("syscall" : "=a"(ret) : "a"(IX_SYS_BPOLL), "D"(descs), "S"(n) : "rcx", "r11", "memory");
	return ret;
}

long ix_posix(long nr, long a0, long a1, long a2)
{
	long ret;
	asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "rcx", "r11", "memory");
	return ret;
}
