/*
 * libDune's internals shared by the C files and dune.S: the per-CPU area (struct dune_percpu,
 * the GS base inside Dune), the GDT selectors, the trap-frame offsets for the assembly, and the
 * VMCALL helper. Not part of the public API.
 */
#pragma once

/* GDT selectors: Linux's layout, so that the host's STAR MSR works for SYSCALL and SYSRET. */
#define GD_KT  0x10 /* kernel (guest ring 0) code */
#define GD_KD  0x18 /* kernel data */
#define GD_UD  0x28 /* user (guest ring 3) data */
#define GD_UT  0x30 /* user code */
#define GD_TSS 0x38 /* 64-bit TSS: two slots */
#define NR_GDT_ENTRIES 9

/* Offsets in struct dune_percpu (upstream's names for the first ones). */
#define PERCPU_PTR   0
#define TMP          8
#define KFS_BASE     16
#define UFS_BASE     24
#define IN_USERMODE  32
#define PERCPU_TSS   40
#define TRAP_STACK   44  /* tss.tss_rsp[0]: where a trap from ring 3 switches stacks */
#define PERCPU_GDT   144
#define G3_SYSCALL   216 /* address of __dune_syscall_from_user, for the copied trampoline */
#define TRAP_DEPTH   224 /* nesting of ring-0 trap handlers (see dune_trap_handler) */
#define PERCPU_CONF  232 /* this thread's struct dune_config */

/* struct dune_tf offsets. */
#define TF_RDI 0
#define TF_RSI 8
#define TF_RDX 16
#define TF_RCX 24
#define TF_R8  32
#define TF_R9  40
#define TF_R10 48
#define TF_R11 56
#define TF_RBX 64
#define TF_RBP 72
#define TF_R12 80
#define TF_R13 88
#define TF_R14 96
#define TF_R15 104
#define TF_RAX 112
#define TF_ERR 120
#define TF_RIP 128
#define TF_CS  136
#define TF_RFLAGS 144
#define TF_RSP 152
#define TF_SS  160
#define TF_SIZE 168

/*
 * The IOPL guest ring 3 runs with: libDune's mark of "this came from ring 3". Ring 3 cannot
 * change IOPL (POPF and IRET at CPL 3 leave it as it is: SDM Vol. 2B POPF, Vol. 2A IRET), and
 * SYSCALL saves RFLAGS in r11 before masking anything, so the trampoline can trust r11's IOPL.
 * Upstream reads %gs:IN_USERMODE instead, which ring 3 can redirect (MOV to GS clears the GS
 * base on Intel). Ring 0 always runs with IOPL 0; ring 3 with IOPL 1, which is still below CPL
 * 3, so IN/OUT/CLI/STI keep faulting there.
 */
#define FL_IOPL_MASK_ 0x3000
#define FL_G3_MARK    0x1000

#define DUNE_ENTER_IOCTL 0x80b0e901 /* DUNE_ENTER, checked against the macro in entry.c */
#define NR_IOCTL 16

#ifndef __ASSEMBLER__

#include <stdint.h>
#include "kern/dune.h"

struct Tss {
	char reserved0[4];
	uint64_t tss_rsp[3];  /* stack pointers for CPL 0, 1, 2 */
	uint64_t tss_ist[8];  /* interrupt stack table (tss_ist[0] is reserved) */
	char reserved1[10];
	uint16_t tss_iomb;    /* I/O map base */
} __attribute__((packed));

struct dune_percpu {
	uint64_t percpu_ptr;
	uint64_t tmp;
	uint64_t kfs_base;
	uint64_t ufs_base;
	uint64_t in_usermode;
	struct Tss tss;
	uint64_t gdt[NR_GDT_ENTRIES];
	uint64_t g3_syscall;
	uint64_t trap_depth;
	struct dune_config conf;
	/* Not used by the assembly. */
	uint64_t entry_stack_top; /* the Linux-mode side's own stack (see dune_enter) */
	void *safe_stack;
	void *ist_stack;
} __attribute__((packed));

_Static_assert(sizeof(struct Tss) == 104, "struct Tss is 104 bytes");
_Static_assert(__builtin_offsetof(struct dune_percpu, tss) == PERCPU_TSS, "PERCPU_TSS");
_Static_assert(__builtin_offsetof(struct dune_percpu, tss.tss_rsp) == TRAP_STACK, "TRAP_STACK");
_Static_assert(__builtin_offsetof(struct dune_percpu, gdt) == PERCPU_GDT, "PERCPU_GDT");
_Static_assert(__builtin_offsetof(struct dune_percpu, g3_syscall) == G3_SYSCALL, "G3_SYSCALL");
_Static_assert(__builtin_offsetof(struct dune_percpu, trap_depth) == TRAP_DEPTH, "TRAP_DEPTH");
_Static_assert(__builtin_offsetof(struct dune_percpu, conf) == PERCPU_CONF, "PERCPU_CONF");

/* The calling thread's per-CPU area, inside Dune (GS base). */
static inline struct dune_percpu *dune_get_percpu(void)
{
	struct dune_percpu *p;
	asm volatile("movq %%gs:0, %0" : "=r"(p));
	return p;
}

/* A system call of the host kernel from guest ring 0: VMCALL with the Linux ABI. */
static inline long dune_vmcall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	long ret;
	register long r10 asm("r10") = a3;
	register long r8 asm("r8") = a4;
	register long r9 asm("r9") = a5;
	asm volatile("vmcall"
		     : "=a"(ret)
		     : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
		     : "memory", "rcx", "r11");
	return ret;
}

/* dune.S */
extern char __dune_intr[];
extern char __dune_syscall[], __dune_syscall_end[];
extern char __dune_syscall_from_user[];
extern char __dune_ret[];
extern int __dune_enter(int fd, struct dune_config *conf, uint64_t entry_stack_top);
extern void __dune_go_dune(int fd, struct dune_config *conf, uint64_t entry_stack_top)
	__attribute__((noreturn));

/* entry.c, page.c, trap.c, procmap.c */
extern int dune_fd;
extern int dune_page_init(void);
extern void *dune_alloc_page_zeroed(void);
extern void dune_trap_handler(int num, struct dune_tf *tf);
extern void dune_syscall_handler(struct dune_tf *tf);
extern void dune_bad_sysret(struct dune_tf *tf) __attribute__((noreturn));
extern void dune_die_message(const char *what, struct dune_tf *tf) __attribute__((noreturn));

#endif /* __ASSEMBLER__ */
