/*
 * Entering Dune (upstream libdune/entry.c): dune_init builds what the process needs once (the
 * page pool, pgroot, the SYSCALL trampoline at LSTAR, the IDT, the signal dispositions);
 * dune_enter gives the calling thread its per-CPU area (GDT, TSS, stacks, dune_config), issues
 * DUNE_ENTER and, now in guest ring 0, loads the GDT, IDT and TR and sets the GS base.
 * on_dune_exit is what runs when the ioctl returns in Linux mode.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_GET_FS 0x1003 /* arch_prctl(2) */

#include "dune.h"
#include "percpu.h"

_Static_assert(DUNE_ENTER == DUNE_ENTER_IOCTL, "DUNE_ENTER in dune.S");

/* The Linux-mode stack of each thread (on_dune_exit, host signal handlers). */
#define ENTRY_STACK_SIZE (64 * 1024)

int dune_fd = -1;
ptent_t *pgroot;
uintptr_t phys_limit;
uintptr_t mmap_base;
uintptr_t stack_base;

static uint64_t *idt; /* 256 16-byte gates, a pool page */
static __thread struct dune_percpu *lpercpu;

/* ---- descriptors (SDM Vol. 3A §3.4.5, §6.14.1, §7.2.3) ---- */

/* A 64-bit code or data segment: base 0, limit 0xfffff, G; code with L, data with D/B. */
static uint64_t seg64(bool code, int dpl)
{
	uint64_t access = 0x80 | (dpl << 5) | 0x10 | (code ? 0xa : 0x2);
	uint64_t flags = code ? 0xa : 0xc;
	return 0xffffUL | (0xfUL << 48) | (access << 40) | (flags << 52);
}

/* The GDT of a thread, with its TSS available (LTR of a busy TSS is #GP: SDM Vol. 2A LTR). */
static void setup_gdt(struct dune_percpu *p)
{
	uint64_t base = (uint64_t) &p->tss, limit = sizeof(struct Tss) - 1;

	memset(p->gdt, 0, sizeof(p->gdt));
	p->gdt[GD_KT >> 3] = seg64(true, 0);
	p->gdt[GD_KD >> 3] = seg64(false, 0);
	p->gdt[GD_UD >> 3] = seg64(false, 3);
	p->gdt[GD_UT >> 3] = seg64(true, 3);
	p->gdt[GD_TSS >> 3] = limit | ((base & 0xffffff) << 16) | (0x89UL << 40) |
			      (((base >> 24) & 0xff) << 56);
	p->gdt[(GD_TSS >> 3) + 1] = base >> 32;
}

/*
 * The IDT: trap gates to the stubs in dune.S; #BP callable from ring 3 (DPL 3); NMI, #DF, #BP
 * and #MC on IST1, a stack of their own (upstream master's choices).
 */
static void setup_idt(void)
{
	int i;

	for (i = 0; i < 256; i++) {
		uint64_t isr = (uint64_t) __dune_intr + 16 * i;
		uint64_t type = 0x8f; /* present, 64-bit trap gate */
		uint64_t ist = 0;
		switch (i) {
		case T_BRKPT:
			type |= 3 << 5;
			/* fallthrough */
		case T_DBLFLT:
		case T_NMI:
		case T_MCHK:
			ist = 1;
			break;
		}
		idt[2 * i] = (isr & 0xffff) | ((uint64_t) GD_KT << 16) | (ist << 32) | (type << 40) |
			     ((isr >> 16) << 48);
		idt[2 * i + 1] = isr >> 32;
	}
}

/* ---- mappings ---- */

/*
 * map_full: the three windows R|W|X|U in 4 KiB pages, as upstream (so 4 KiB operations work
 * anywhere in them), except the pool, which is supervisor-only and mapped with 2 MiB pages:
 * the per-CPU areas, descriptor tables, page tables and the trampoline live there, so ring 3
 * cannot write what ring 0 trusts. (The rest of the identity window, the program's own text and
 * data included, is ring 3's too in full mode, as upstream: use precise mode, or mprotect, to
 * keep ring 3 out of it.)
 */
static int setup_mappings_full(void)
{
	uintptr_t w = stack_base - mmap_base;
	uintptr_t pool_end = PAGEBASE + MAX_PAGES * PGSIZE;
	int all = PERM_R | PERM_W | PERM_X | PERM_U;
	int ret;

	if ((ret = dune_vm_map_phys(pgroot, (void *) 0, PAGEBASE, (void *) 0, all)))
		return ret;
	if ((ret = dune_vm_map_phys(pgroot, (void *) pool_end, w - pool_end, (void *) pool_end, all)))
		return ret;
	if ((ret = dune_vm_map_phys(pgroot, (void *) PAGEBASE, MAX_PAGES * PGSIZE,
				    (void *) dune_va_to_pa((void *) PAGEBASE), PERM_R | PERM_W | PERM_BIG)))
		return ret;
	if ((ret = dune_vm_map_phys(pgroot, (void *) mmap_base, w,
				    (void *) dune_mmap_addr_to_pa((void *) mmap_base), all)))
		return ret;
	return dune_vm_map_phys(pgroot, (void *) stack_base, w,
				(void *) dune_stack_addr_to_pa((void *) stack_base), all);
}

/* Whether va is in one of the module's three windows (has a guest-physical address). */
static bool in_windows(uintptr_t va)
{
	uintptr_t w = stack_base - mmap_base;
	return va < w || (va >= mmap_base && va - mmap_base < w) || (va >= stack_base && va - stack_base < w);
}

/*
 * Precise mode: each VMA of /proc/self/maps with its own permissions (always readable) and no
 * U bit, plus the pool; what is mapped later (mmap after dune_init, stack growth) is not there
 * until a page-fault handler maps it, as upstream's precise mode.
 */
static int setup_mappings_precise(void)
{
	FILE *f;
	char line[512];
	int ret;

	if ((ret = dune_vm_map_phys(pgroot, (void *) PAGEBASE, MAX_PAGES * PGSIZE,
				    (void *) dune_va_to_pa((void *) PAGEBASE), PERM_R | PERM_W | PERM_BIG)))
		return ret;
	if (!(f = fopen("/proc/self/maps", "r")))
		return -errno;
	ret = 0;
	while (!ret && fgets(line, sizeof(line), f)) {
		unsigned long begin, end, va;
		char r, w, x;
		int perm;
		if (sscanf(line, "%lx-%lx %c%c%c", &begin, &end, &r, &w, &x) != 5)
			continue;
		if (begin >= PAGEBASE && end <= PAGEBASE + MAX_PAGES * PGSIZE)
			continue; /* the pool, mapped above */
		perm = PERM_R | (w == 'w' ? PERM_W : 0) | (x == 'x' ? PERM_X : 0);
		for (va = begin; va < end && !ret; va += PGSIZE)
			if (in_windows(va))
				ret = dune_vm_map_phys(pgroot, (void *) va, PGSIZE,
						       (void *) dune_va_to_pa((void *) va), perm);
	}
	fclose(f);
	return ret;
}

/*
 * The SYSCALL trampoline: __dune_syscall copied into two pool pages mapped at the host's LSTAR
 * address, at the same page offset (supervisor, read-only, executable). The module gives LSTAR
 * (DUNE_GET_SYSCALL); a SYSCALL in the guest goes there, since the guest shares the host's MSRs.
 */
static int setup_syscall(void)
{
	size_t len = (size_t) (__dune_syscall_end - __dune_syscall);
	unsigned long lstar, lstara, off;
	char *page[2];
	int i, ret;

	lstar = (unsigned long) syscall(SYS_ioctl, dune_fd, DUNE_GET_SYSCALL);
	if (lstar >= (unsigned long) -4095)
		return (int) lstar;
	lstara = lstar & ~(PGSIZE - 1);
	off = lstar - lstara;
	for (i = 0; i < 2; i++)
		if (!(page[i] = dune_alloc_page_zeroed()))
			return -ENOMEM;
	for (i = 0; i < (int) len; i++)
		page[(off + i) / PGSIZE][(off + i) % PGSIZE] = __dune_syscall[i];
	for (i = 0; i < 2; i++) {
		ptent_t *pte;
		if ((ret = dune_vm_lookup(pgroot, (void *) (lstara + i * PGSIZE), CREATE_NORMAL, &pte)))
			return ret;
		*pte = PTE_ADDR(page[i]) | PTE_P;
	}
	return 0;
}

/* "Disable signals for now until we have better support" (upstream): SIG_IGN for most. */
static int setup_signals(void)
{
	int i;

	for (i = 1; i < 32; i++) {
		struct sigaction sa;
		switch (i) {
		case SIGTSTP:
		case SIGSTOP:
		case SIGKILL:
		case SIGCHLD:
		case SIGINT:
		case SIGTERM:
			continue;
		}
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		if (sigaction(i, &sa, NULL) == -1)
			return -errno;
	}
	return 0;
}

int dune_init(bool map_full)
{
	struct dune_layout layout;
	int ret;

	if (pgroot)
		return 0;
	dune_fd = open("/dev/dune", O_RDWR);
	if (dune_fd < 0) {
		ret = -errno;
		printf("dune: failed to open Dune device\n");
		return ret;
	}
	if (ioctl(dune_fd, DUNE_GET_LAYOUT, &layout)) {
		ret = -errno;
		printf("dune: failed to get layout\n");
		goto fail;
	}
	phys_limit = layout.phys_limit;
	mmap_base = layout.base_map;
	stack_base = layout.base_stack;
	if (stack_base <= mmap_base || PAGEBASE + MAX_PAGES * PGSIZE > stack_base - mmap_base) {
		printf("dune: the page pool [0x%lx, 0x%lx) is outside the identity window\n",
		       PAGEBASE, PAGEBASE + MAX_PAGES * PGSIZE);
		ret = -EINVAL;
		goto fail;
	}
	if ((ret = dune_page_init())) {
		printf("dune: unable to initialize page manager\n");
		goto fail;
	}
	if (!(pgroot = dune_alloc_page_zeroed())) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = map_full ? setup_mappings_full() : setup_mappings_precise();
	if (ret) {
		printf("dune: unable to setup memory layout\n");
		goto fail_pgroot;
	}
	if ((ret = setup_syscall())) {
		printf("dune: unable to setup system calls\n");
		goto fail_pgroot;
	}
	if ((ret = setup_signals())) {
		printf("dune: unable to setup signal handlers\n");
		goto fail_pgroot;
	}
	if (!(idt = dune_alloc_page_zeroed())) {
		ret = -ENOMEM;
		goto fail_pgroot;
	}
	setup_idt();
	return 0;

fail_pgroot:
	dune_vm_free(pgroot);
	pgroot = NULL;
fail:
	close(dune_fd);
	dune_fd = -1;
	return ret;
}

/* A thread's per-CPU area, safe stacks and Linux-mode entry stack. */
static struct dune_percpu *create_percpu(void)
{
	struct dune_percpu *p = dune_alloc_page_zeroed();
	void *entry;

	if (!p)
		return NULL;
	p->safe_stack = dune_alloc_page_zeroed();
	p->ist_stack = dune_alloc_page_zeroed();
	entry = mmap(NULL, ENTRY_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!p->safe_stack || !p->ist_stack || entry == MAP_FAILED)
		return NULL;
	p->entry_stack_top = (uint64_t) entry + ENTRY_STACK_SIZE;
	p->percpu_ptr = (uint64_t) p;
	p->g3_syscall = (uint64_t) __dune_syscall_from_user;
	p->tss.tss_rsp[0] = (uint64_t) p->safe_stack + PGSIZE;
	p->tss.tss_ist[1] = (uint64_t) p->ist_stack + PGSIZE;
	p->tss.tss_iomb = sizeof(struct Tss); /* no I/O bitmap */
	return p;
}

/* The first thing inside Dune: the thread's descriptor tables and GS base. */
static void dune_boot(struct dune_percpu *p)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr = { sizeof(p->gdt) - 1, (uint64_t) p->gdt },
				   idtr = { 256 * 16 - 1, (uint64_t) idt };
	uint64_t gs = (uint64_t) p;

	asm volatile("lgdt %0" : : "m"(gdtr));
	asm volatile("lidt %0" : : "m"(idtr));
	asm volatile("ltr %w0" : : "r"(GD_TSS));
	asm volatile("wrmsr" : : "c"(MSR_GS_BASE), "a"((uint32_t) gs), "d"((uint32_t) (gs >> 32)));
	asm volatile("sti");
}

int dune_enter(void)
{
	struct dune_percpu *p;
	unsigned long fs;
	int ret;

	if (!pgroot || dune_fd < 0)
		return -ENODEV;
	/* A forked child finds its parent's (its copy); a new thread makes its own. */
	if (!(p = lpercpu)) {
		if (!(p = create_percpu()))
			return -ENOMEM;
		lpercpu = p;
	}
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs))
		return -errno;
	p->kfs_base = p->ufs_base = fs;
	p->in_usermode = 0;
	p->trap_depth = 0;
	setup_gdt(p);
	memset(&p->conf, 0, sizeof(p->conf));
	p->conf.rip = (uint64_t) __dune_ret;
	p->conf.cr3 = (uint64_t) pgroot;
	p->conf.rflags = 0x2;
	ret = __dune_enter(dune_fd, &p->conf, p->entry_stack_top);
	if (ret) {
		printf("dune: entry to Dune mode failed, ret is %d\n", ret);
		return -EIO;
	}
	dune_boot(p);
	return 0;
}

/*
 * The DUNE_ENTER ioctl returned (Linux mode, on the thread's entry stack): the guest exited,
 * or cannot go on. Only a signal comes back: its host handler has run, and the guest resumes
 * where it was.
 */
void on_dune_exit(struct dune_config *conf)
{
	switch (conf->ret) {
	case DUNE_RET_EXIT:
		/* The system call that ended the vCPU is still in rax: exit or exit_group. */
		syscall(conf->rax == SYS_exit ? SYS_exit : SYS_exit_group, conf->status);
		break;
	case DUNE_RET_SIGNAL:
		__dune_go_dune(dune_fd, conf, lpercpu->entry_stack_top);
	case DUNE_RET_EPT_VIOLATION:
		printf("dune: exit due to EPT violation (guest-physical 0x%llx, rip 0x%llx)\n",
		       (unsigned long long) conf->status, (unsigned long long) conf->rip);
		break;
	case DUNE_RET_INTERRUPT:
		printf("dune: exit due to interrupt %lld (rip 0x%llx)\n", (long long) conf->status,
		       (unsigned long long) conf->rip);
		break;
	case DUNE_RET_UNHANDLED_VMEXIT:
		printf("dune: exit due to unhandled VM exit (reason %lld, rip 0x%llx)\n",
		       (long long) conf->status, (unsigned long long) conf->rip);
		break;
	case DUNE_RET_NOENTER:
		printf("dune: re-entry to Dune mode failed, status is %lld\n", (long long) conf->status);
		break;
	default:
		printf("dune: unknown exit from Dune, ret=%lld, status=%lld\n", (long long) conf->ret,
		       (long long) conf->status);
		break;
	}
	exit(EXIT_FAILURE);
}

/* ---- dunesim addition: PCIDs ---- */

static uint64_t pcid_bitmap[DUNE_NR_PCIDS / 64] = { 1 }; /* PCID 0 is pgroot's */
static volatile int pcid_lock;

int dune_pcid_alloc(void)
{
	int i, ret = -ENOSPC;

	while (__atomic_exchange_n(&pcid_lock, 1, __ATOMIC_ACQUIRE))
		;
	for (i = 1; i < DUNE_NR_PCIDS; i++) {
		if (!(pcid_bitmap[i / 64] & (1UL << (i % 64)))) {
			pcid_bitmap[i / 64] |= 1UL << (i % 64);
			ret = i;
			break;
		}
	}
	__atomic_store_n(&pcid_lock, 0, __ATOMIC_RELEASE);
	return ret;
}

void dune_pcid_free(int pcid)
{
	if (pcid <= 0 || pcid >= DUNE_NR_PCIDS)
		return;
	/* Its TLB entries must not serve the next owner of the PCID. */
	__invpcid(INVPCID_TYPE_SINGLE_CTXT, pcid, 0);
	while (__atomic_exchange_n(&pcid_lock, 1, __ATOMIC_ACQUIRE))
		;
	pcid_bitmap[pcid / 64] &= ~(1UL << (pcid % 64));
	__atomic_store_n(&pcid_lock, 0, __ATOMIC_RELEASE);
}
