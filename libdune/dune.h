/*
 * libDune: the library a process links to run inside Dune (Belay et al., OSDI 2012), with the
 * names, types and constants of upstream libdune/dune.h, so that a program written against the
 * real header compiles against this one unchanged. Built for dunesim: the same library runs on a
 * machine with the Dune kernel module loaded, and it enters Dune through /dev/dune exactly as
 * there (open, DUNE_GET_LAYOUT, DUNE_GET_SYSCALL, DUNE_ENTER).
 *
 * What runs where:
 *   - dune_init() and the Linux-mode side of dune_enter() (the DUNE_ENTER ioctl, on_dune_exit)
 *     run as an ordinary process (host ring 3);
 *   - after dune_enter() returns, the thread runs in VMX non-root ring 0 ("G0"): the program,
 *     libDune's page-table code and every handler registered here;
 *   - dune_jump_to_user() runs code in guest ring 3 ("G3"), isolated by the U bit of the page
 *     table libDune manages;
 *   - the Dune module (VMX root) sees only VM exits: VMCALL (system calls), EPT violations,
 *     CPUID, #DB/#BP, and what it cannot handle.
 *
 * Calls made before a successful dune_init() fail cleanly rather than crash: dune_enter()
 * returns -ENODEV, dune_page_alloc() returns NULL, the dune_vm_* functions given a NULL root
 * return -EINVAL (dune_vm_clone returns NULL), and dune_register_*() returns -EINVAL for a
 * vector outside 0..255.
 *
 * dunesim additions (not in upstream's header) are marked "dunesim addition" below.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmu.h"
#include "kern/dune.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * Memory layout.
 *
 * The guest page table maps guest-virtual == host-virtual; only the physical address in a PTE
 * differs. The module packs three windows of the host address space into guest-physical space:
 * the start of the process (identity: binary, heap, page pool), the mmap region and the stack.
 * dunesim's module makes the three windows the same size W = phys_limit / 3 (upstream: the
 * identity part, then 63 GiB of mmap and 1 GiB of stack below phys_limit), with the mmap window
 * right below the stack window, so W = stack_base - mmap_base. The functions below follow that
 * layout, with the bases the module reported (DUNE_GET_LAYOUT).
 */

extern uintptr_t phys_limit; /* end of guest-physical space */
extern uintptr_t mmap_base;  /* host-virtual start of the mmap window */
extern uintptr_t stack_base; /* host-virtual start of the stack window */

static inline uintptr_t dune_mmap_addr_to_pa(void *ptr)
{
	return ((uintptr_t) ptr) - mmap_base + (stack_base - mmap_base);
}

static inline uintptr_t dune_stack_addr_to_pa(void *ptr)
{
	return ((uintptr_t) ptr) - stack_base + 2 * (stack_base - mmap_base);
}

/* Host-virtual → guest-physical (the inverse of the module's gpa_to_hva). */
static inline uintptr_t dune_va_to_pa(void *ptr)
{
	uintptr_t va = (uintptr_t) ptr, w = stack_base - mmap_base;
	if (va >= stack_base && va - stack_base < w)
		return dune_stack_addr_to_pa(ptr);
	if (va >= mmap_base && va - mmap_base < w)
		return dune_mmap_addr_to_pa(ptr);
	return va;
}

/* ---------------------------------------------------------------------------------------
 * Page allocation (page.c): a pool of 4 KiB pages at PAGEBASE, guest-physical == virtual, so
 * page-table code can follow a PTE's address as a pointer. Page-table pages and the pages
 * dune_vm_map_pages maps come from it. Upstream puts it at 8 GiB; dunesim's identity window is
 * 4 GiB, so it lies below that.
 */

struct page {
	struct page *next; /* free list (upstream: SLIST_ENTRY link) */
	uint64_t ref;
};

#define PAGEBASE   0xc0000000UL
#define MAX_PAGES  (1UL << 18) /* 1 GiB of pool address space */
#define GROW_SIZE  512         /* pages added to the pool at a time (2 MiB) */

extern struct page *pages;
extern int num_pages;

extern struct page *dune_page_alloc(void);
extern void dune_page_free(struct page *pg);
extern void dune_page_stats(void);

static inline struct page *dune_pa2page(physaddr_t pa)
{
	return &pages[PPN(pa - PAGEBASE)];
}

static inline physaddr_t dune_page2pa(struct page *pg)
{
	return PAGEBASE + ((physaddr_t) (pg - pages) << PGSHIFT);
}

static inline bool dune_page_isfrompool(physaddr_t pa)
{
	return pa >= PAGEBASE && pa < PAGEBASE + ((physaddr_t) num_pages << PGSHIFT);
}

static inline struct page *dune_page_get(struct page *pg)
{
	__atomic_add_fetch(&pg->ref, 1, __ATOMIC_RELAXED);
	return pg;
}

static inline void dune_page_put(struct page *pg)
{
	if (__atomic_sub_fetch(&pg->ref, 1, __ATOMIC_ACQ_REL) == 0)
		dune_page_free(pg);
}

/* ---------------------------------------------------------------------------------------
 * Page tables (vm.c). `root` is a PML4 from the pool; pgroot is the one dune_init builds.
 */

extern ptent_t *pgroot;

#define PERM_NONE    0x0000 /* no access */
#define PERM_R       0x0001 /* read permission (implies present) */
#define PERM_W       0x0002 /* write permission */
#define PERM_X       0x0004 /* execute permission (its absence sets PTE_NX) */
#define PERM_U       0x0008 /* user-level permission */
#define PERM_UC      0x0010 /* disable caching */
#define PERM_COW     0x0020 /* copy-on-write */
#define PERM_USR1    0x1000 /* user-defined flag 1 */
#define PERM_USR2    0x2000 /* user-defined flag 2 */
#define PERM_USR3    0x3000 /* user-defined flag 3 (upstream's value: USR1|USR2) */
#define PERM_BIG     0x0100 /* a 2 MiB page */
#define PERM_BIG_1GB 0x0200 /* a 1 GiB page */

/* Helpers. */
#define PERM_SCODE  (PERM_R | PERM_X)
#define PERM_STEXT  (PERM_R | PERM_W)
#define PERM_SSTACK PERM_STEXT
#define PERM_UCODE  (PERM_R | PERM_U | PERM_X)
#define PERM_UTEXT  (PERM_R | PERM_U | PERM_W)
#define PERM_USTACK PERM_UTEXT

/* Whole-address-space walk bounds (end addresses of walks are inclusive). */
#define VA_START ((void *) 0)
#define VA_END   ((void *) -1)

/* __dune_vm_page_walk's `create`. */
enum {
	CREATE_NONE = 0,
	CREATE_NORMAL = 1,
	CREATE_BIG = 2,
	CREATE_BIG_1GB = 3,
};

/* Called for each leaf (a 4 KiB PTE, or a 2 MiB / 1 GiB PS=1 entry); non-zero stops the walk. */
typedef int (*page_walk_cb)(const void *arg, ptent_t *ptep, void *va);

extern int dune_vm_mprotect(ptent_t *root, void *va, size_t len, int perm);
extern int dune_vm_map_phys(ptent_t *root, void *va, size_t len, void *pa, int perm);
extern int dune_vm_map_pages(ptent_t *root, void *va, size_t len, int perm);
extern void dune_vm_unmap(ptent_t *root, void *va, size_t len);
extern int dune_vm_lookup(ptent_t *root, void *va, int create, ptent_t **pte_out);
extern int dune_vm_insert_page(ptent_t *root, void *va, struct page *pg, int perm);
extern struct page *dune_vm_lookup_page(ptent_t *root, void *va);
extern ptent_t *dune_vm_clone(ptent_t *root);
extern void dune_vm_free(ptent_t *root);
extern void dune_vm_default_pgflt_handler(uintptr_t addr, uint64_t fec);
extern int dune_vm_page_walk(ptent_t *root, void *start_va, void *end_va,
			     page_walk_cb cb, const void *arg);
extern int __dune_vm_page_walk(ptent_t *dir, void *start_va, void *end_va,
			       page_walk_cb cb, const void *arg, int level, int create);

/* ---------------------------------------------------------------------------------------
 * TLB and CR3. Guest ring 0 writes CR3 and runs INVLPG / INVPCID without a VM exit (the module
 * turns those exits off when it uses EPT). CR4.PCIDE is on inside Dune: CR3[11:0] is a PCID, and
 * CR3_NOFLUSH (bit 63) keeps that PCID's TLB entries on a switch.
 */

#define CR3_NOFLUSH (1UL << 63)

static inline void dune_flush_tlb_one(unsigned long addr)
{
	asm volatile("invlpg (%0)" : : "r"(addr) : "memory");
}

static inline void dune_flush_tlb(void)
{
	unsigned long cr3;
	asm volatile("mov %%cr3, %0" : "=r"(cr3));
	asm volatile("mov %0, %%cr3" : : "r"(cr3 & ~CR3_NOFLUSH) : "memory");
}

static inline void load_cr3(unsigned long cr3)
{
	asm volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

static inline unsigned long read_cr3(void)
{
	unsigned long cr3;
	asm volatile("mov %%cr3, %0" : "=r"(cr3));
	return cr3;
}

/* INVPCID types (SDM Vol. 2A INVPCID). */
#define INVPCID_TYPE_INDIV_ADDR     0
#define INVPCID_TYPE_SINGLE_CTXT    1
#define INVPCID_TYPE_ALL_INCL_GLOBAL 2
#define INVPCID_TYPE_ALL_NON_GLOBAL 3

static inline void __invpcid(unsigned long type, unsigned long pcid, unsigned long addr)
{
	struct { uint64_t d[2]; } desc = { { pcid, addr } };
	asm volatile("invpcid %0, %1" : : "m"(desc), "r"(type) : "memory");
}

/* ---------------------------------------------------------------------------------------
 * dunesim addition: PCIDs and switching page-table roots (for per-thread / per-sthread page
 * tables, as Wedge uses them). PCID 0 is pgroot's; dune_pcid_alloc hands out 1..4095.
 */

#define DUNE_NR_PCIDS 4096

extern int dune_pcid_alloc(void);       /* a free PCID, or -ENOSPC */
extern void dune_pcid_free(int pcid);   /* flushes its TLB entries (INVPCID) and frees it */

/* Makes `root` the current page table under `pcid`; noflush keeps the PCID's TLB entries. */
static inline void dune_switch_root(ptent_t *root, int pcid, bool noflush)
{
	load_cr3((uintptr_t) root | ((unsigned long) pcid & CR3_PCID_MASK) |
		 (noflush ? CR3_NOFLUSH : 0));
}

/*
 * dunesim addition: dirty-page harvest. Walks the 4 KiB and 2 MiB leaves of [start_va,
 * start_va + len), stores the address of each page whose PTE_D is set into dirty[] (at most
 * max), clears PTE_D in those entries, and flushes the TLB once at the end if it cleared any:
 * a TLB entry that is already dirty lets writes through without setting PTE_D again, so the
 * flush is what makes the next harvest see the next write. The flush is a CR3 reload when root
 * is the current page table, else INVPCID of every context. Returns the number of pages stored
 * (pages beyond max keep PTE_D for the next call), or -EINVAL.
 */
extern long dune_vm_harvest_dirty(ptent_t *root, void *start_va, size_t len,
				  void **dirty, long max);

/* ---------------------------------------------------------------------------------------
 * Traps and system calls (trap.c, dune.S).
 */

/*
 * The trap frame: what the IDT stubs and the SYSCALL trampoline save. On the SYSCALL path the
 * trampoline puts user r10 in the rcx slot (so ARG3 is the 4th system-call argument), user rcx
 * (the return address) in rip and user r11 in rflags.
 */
struct dune_tf {
	/* manually saved, arguments */
	uint64_t rdi;
	uint64_t rsi;
	uint64_t rdx;
	uint64_t rcx;
	uint64_t r8;
	uint64_t r9;
	uint64_t r10;
	uint64_t r11;

	/* saved by C calling conventions */
	uint64_t rbx;
	uint64_t rbp;
	uint64_t r12;
	uint64_t r13;
	uint64_t r14;
	uint64_t r15;

	/* system call number, ret */
	uint64_t rax;

	/* exception frame */
	uint32_t err;
	uint32_t pad1;
	uint64_t rip;
	uint16_t cs;
	uint16_t pad2[3];
	uint64_t rflags;
	uint64_t rsp;
	uint16_t ss;
	uint16_t pad3[3];
} __attribute__((packed));

_Static_assert(sizeof(struct dune_tf) == 168, "struct dune_tf is 168 bytes");
_Static_assert(offsetof(struct dune_tf, rdi) == 0, "dune_tf.rdi");
_Static_assert(offsetof(struct dune_tf, rcx) == 24, "dune_tf.rcx");
_Static_assert(offsetof(struct dune_tf, r10) == 48, "dune_tf.r10");
_Static_assert(offsetof(struct dune_tf, rbx) == 64, "dune_tf.rbx");
_Static_assert(offsetof(struct dune_tf, r15) == 104, "dune_tf.r15");
_Static_assert(offsetof(struct dune_tf, rax) == 112, "dune_tf.rax");
_Static_assert(offsetof(struct dune_tf, err) == 120, "dune_tf.err");
_Static_assert(offsetof(struct dune_tf, rip) == 128, "dune_tf.rip");
_Static_assert(offsetof(struct dune_tf, cs) == 136, "dune_tf.cs");
_Static_assert(offsetof(struct dune_tf, rflags) == 144, "dune_tf.rflags");
_Static_assert(offsetof(struct dune_tf, rsp) == 152, "dune_tf.rsp");
_Static_assert(offsetof(struct dune_tf, ss) == 160, "dune_tf.ss");

#define ARG0(tf) ((tf)->rdi)
#define ARG1(tf) ((tf)->rsi)
#define ARG2(tf) ((tf)->rdx)
#define ARG3(tf) ((tf)->rcx)
#define ARG4(tf) ((tf)->r8)
#define ARG5(tf) ((tf)->r9)

typedef void (*dune_intr_cb)(struct dune_tf *tf);
typedef void (*dune_pgflt_cb)(uintptr_t addr, uint64_t fec, struct dune_tf *tf);
typedef void (*dune_syscall_cb)(struct dune_tf *tf);

/* Vectors of signals in the IDT (an older design; the module never injects them). */
#define DUNE_SIGNAL_INTR_BASE 200

extern int dune_register_intr_handler(int vec, dune_intr_cb cb);
extern int dune_register_signal_handler(int signum, dune_intr_cb cb);
extern void dune_register_pgflt_handler(dune_pgflt_cb cb);
extern void dune_register_syscall_handler(dune_syscall_cb cb);

extern void dune_pop_trap_frame(struct dune_tf *tf) __attribute__((noreturn));
extern int dune_jump_to_user(struct dune_tf *tf);
extern void dune_ret_from_user(int ret) __attribute__((noreturn));
extern void dune_dump_trap_frame(struct dune_tf *tf);
extern void dune_passthrough_syscall(struct dune_tf *tf);
/*
 * dunesim addition: the page (PGSIZE, aligned) that holds the registered handler pointers, which
 * ring 0 reads under whatever root is loaded when a trap arrives. A root that maps the program's
 * writable data elsewhere for ring 3 must keep this page supervisor-only, mapped to itself.
 */
extern void *dune_trap_handlers_page(void);

/* ---------------------------------------------------------------------------------------
 * Utilities (util.c).
 */

extern void dune_set_user_fs(unsigned long fs_base);
extern unsigned long dune_get_user_fs(void);

/* printf to stdout with a VMCALL write(2): no libc system-call path. */
extern int dune_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* exit_group(1) with a VMCALL. */
extern void dune_die(void) __attribute__((noreturn));
extern void *dune_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset);

static inline unsigned long dune_get_ticks(void)
{
	unsigned int a, d;
	asm volatile("rdtsc" : "=a"(a), "=d"(d));
	return ((unsigned long) a) | (((unsigned long) d) << 32);
}

/* ---------------------------------------------------------------------------------------
 * Initialisation (entry.c).
 */

/*
 * Opens /dev/dune, builds pgroot and the page pool, asks the module for the layout and LSTAR,
 * installs the SYSCALL trampoline, ignores most signals and builds the IDT. map_full maps the
 * three windows with R|W|X|U (4 KiB pages) and the pool supervisor-only; !map_full maps only the
 * process's VMAs (/proc/self/maps), supervisor-only. Returns 0 or -errno (-ENOENT: no /dev/dune,
 * the Dune module is not loaded).
 */
extern int dune_init(bool map_full);
/* Moves the calling thread into Dune (each thread and each forked child calls it). */
extern int dune_enter(void);

/* Upstream's one-call start: dune_init(1), then dune_enter(). */
static inline int dune_init_and_enter(void)
{
	int ret;
	if ((ret = dune_init(1)))
		return ret;
	return dune_enter();
}

#ifdef __cplusplus
}
#endif
