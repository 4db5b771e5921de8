/*
 * The virtual dirty bit: "which pointer-holding heap pages were written since I last asked?",
 * four ways (gc.h). gc_read_dirty() answers for the collection that asks and re-arms the
 * barrier for the next one, in the same breath, as Boehm's GC_read_dirty does: the collector
 * itself never writes a heap page, so nothing between the two can be missed.
 *
 * The three protection variants write-protect the runs of pages that hold pointer objects
 * (Boehm leaves pointer-free blocks unprotected too) and record a page in `written` when the
 * program's first store to it faults. The dirty-bit variant protects nothing and reads the D
 * bits the page walker set (SDM Vol. 3A §4.8).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "libdune/dune.h"
#include "gc_private.h"

/* Pages whose first store since the last re-arm faulted (written by the fault handlers). */
static volatile uint8_t *written;
/* GC_HARVEST_WITHOUT_FLUSH: see gc_read_dirty. */
static int harvest_without_flush;

static inline int tracked(const struct hblk *h)
{
	return !h->atomic && (h->kind == HBLK_SMALL || h->kind == HBLK_LARGE || h->kind == HBLK_LARGE_TAIL);
}

/* ---- normal: mprotect and SIGSEGV, an ordinary Linux process ---- */

static void segv_handler(int sig, siginfo_t *si, void *ctx)
{
	(void) ctx;
	struct gc_state *g = &GC_state;
	uintptr_t off = (uintptr_t) si->si_addr - g->heap_lo;
	size_t page = off >> GC_PAGE_SHIFT;
	if (off < (g->heap_pages << GC_PAGE_SHIFT) && !written[page]) {
		mprotect((void *) gc_page_addr(page), GC_PAGE, PROT_READ | PROT_WRITE);
		written[page] = 1;
		g->st.faults++;
		g->st.protect_calls++;
		g->stack_dirty = 1;
		return;
	}
	/* Not the barrier's: the default action, when the instruction faults again. */
	signal(sig, SIG_DFL);
}

/* ---- dune, dune-tlb: the guest page table, a #PF handler in ring 0 ---- */

static int clear_pte_w(const void *arg, ptent_t *pte, void *va)
{
	(void) arg;
	(void) va;
	*pte &= ~PTE_W;
	return 0;
}

static int in_window(uintptr_t va)
{
	uintptr_t w = stack_base - mmap_base;
	return (va >= mmap_base && va - mmap_base < w) || (va >= stack_base && va - stack_base < w);
}

static void dune_pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	struct gc_state *g = &GC_state;
	uintptr_t off = addr - g->heap_lo;
	size_t page = off >> GC_PAGE_SHIFT;
	if (off < (g->heap_pages << GC_PAGE_SHIFT) && (fec & FEC_P) && (fec & FEC_W) &&
	    g->variant != GC_VARIANT_DUNE_DIRTY && !written[page]) {
		void *va = (void *) gc_page_addr(page);
		if (g->variant == GC_VARIANT_DUNE) {
			/* The direct port: mprotect becomes dune_vm_mprotect, which flushes the whole TLB. */
			dune_vm_mprotect(pgroot, va, GC_PAGE, PERM_R | PERM_W);
			g->st.tlb_flushes++;
		} else {
			ptent_t *pte;
			if (dune_vm_lookup(pgroot, va, CREATE_NONE, &pte) != 0)
				dune_die();
			*pte |= PTE_W;
			dune_flush_tlb_one((unsigned long) va);
			g->st.tlb_invlpg++;
		}
		g->st.protect_calls++;
		written[page] = 1;
		g->st.faults++;
		g->stack_dirty = 1;
		return;
	}
	/* Precise mode maps what existed at dune_init; the stack may grow, libc may mmap later. */
	if (!(fec & FEC_P) && in_window(addr)) {
		void *va = (void *) PGADDR(addr);
		if (dune_vm_map_phys(pgroot, va, PGSIZE, (void *) dune_va_to_pa(va), PERM_R | PERM_W) == 0)
			return;
	}
	dune_printf("gc: page fault at 0x%lx (error code 0x%lx) at rip 0x%lx, not the collector's\n",
		    (unsigned long) addr, (unsigned long) fec, (unsigned long) tf->rip);
	dune_die();
}

static void *reserve(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "gc: cannot reserve memory (mmap failed)\n");
		exit(1);
	}
	return p;
}

void gc_dirty_enter(void)
{
	struct gc_state *g = &GC_state;
	written = reserve(g->heap_max_pages);
	if (g->variant == GC_VARIANT_NORMAL) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = segv_handler;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, NULL) != 0) {
			fprintf(stderr, "gc: sigaction(SIGSEGV) failed\n");
			exit(1);
		}
		return;
	}
	/* Precise mode: a few hundred thousand instructions, against full mode's tens of millions. */
	int ret = dune_init(0);
	if (ret == 0)
		ret = dune_enter();
	if (ret != 0) {
		fprintf(stderr, "gc: GC_VARIANT=%s needs the Dune module: entering Dune failed (%d)\n",
			GC_variant_name(), ret);
		exit(1);
	}
	dune_register_pgflt_handler(dune_pgflt);
	const char *nf = getenv("GC_HARVEST_WITHOUT_FLUSH");
	harvest_without_flush = nf != NULL && strcmp(nf, "1") == 0;
}

/* Write-protects the runs of tracked pages: one call per run (mprotect, dune_vm_mprotect) or one
 * page-table walk per run and a single flush at the end (dune-tlb). */
static void protect_heap(void)
{
	struct gc_state *g = &GC_state;
	size_t page = 1;
	while (page < g->heap_pages) {
		if (!tracked(gc_hdr(page))) {
			page++;
			continue;
		}
		size_t start = page;
		while (page < g->heap_pages && tracked(gc_hdr(page)))
			page++;
		void *va = (void *) gc_page_addr(start);
		size_t len = (page - start) << GC_PAGE_SHIFT;
		g->st.protect_calls++;
		switch (g->variant) {
		case GC_VARIANT_NORMAL:
			mprotect(va, len, PROT_READ);
			break;
		case GC_VARIANT_DUNE:
			dune_vm_mprotect(pgroot, va, len, PERM_R);
			g->st.tlb_flushes++;
			break;
		default:
			dune_vm_page_walk(pgroot, va, (char *) va + len - 1, clear_pte_w, NULL);
			break;
		}
	}
	if (g->variant == GC_VARIANT_DUNE_TLB) {
		dune_flush_tlb();
		g->st.tlb_flushes++;
	}
}

/*
 * GC_HARVEST_WITHOUT_FLUSH=1 (dune-dirty only, a demonstration for the tests): collect and clear
 * PTE_D by a page walk and flush nothing. A translation the TLB cached while the page was dirty
 * keeps D set in the TLB, so the next store through it does not set PTE_D again (SDM Vol. 3A
 * §4.8, §4.10.4.2): that page's next writes are missed. The verifier sees the result.
 */
static int harvest_no_flush(const void *arg, ptent_t *pte, void *va)
{
	(void) arg;
	if ((*pte & PTE_P) && (*pte & PTE_D)) {
		*pte &= ~PTE_D;
		GC_state.dirty[((uintptr_t) va - GC_state.heap_lo) >> GC_PAGE_SHIFT] = 1;
	}
	return 0;
}

void gc_read_dirty(void)
{
	struct gc_state *g = &GC_state;
	size_t n = g->heap_pages;
	if (g->variant == GC_VARIANT_DUNE_DIRTY && harvest_without_flush) {
		memset(g->dirty, 0, n);
		dune_vm_page_walk(pgroot, (void *) g->heap_lo, (char *) g->heap_lo + (n << GC_PAGE_SHIFT) - 1,
				  harvest_no_flush, NULL);
		return;
	}
	if (g->variant == GC_VARIANT_DUNE_DIRTY) {
		memset(g->dirty, 0, n);
		long got = dune_vm_harvest_dirty(pgroot, (void *) g->heap_lo, n << GC_PAGE_SHIFT,
						 g->dirty_list, (long) g->heap_max_pages);
		if (got > 0)
			g->st.tlb_flushes++; /* the harvest's one flush */
		for (long i = 0; i < got; i++)
			g->dirty[((uintptr_t) g->dirty_list[i] - g->heap_lo) >> GC_PAGE_SHIFT] = 1;
		return;
	}
	memcpy(g->dirty, (const void *) written, n);
	memset((void *) written, 0, n);
	protect_heap();
}
