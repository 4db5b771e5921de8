/*
 * A conservative mark-sweep collector for C with Boehm's interface (GC_init, GC_malloc,
 * GC_malloc_atomic, GC_gcollect, GC_enable_incremental), written for dunesim to reproduce the
 * Dune paper's Table 6 (Belay et al., OSDI 2012, §5.3 and §6.3.3). It is not Boehm's code.
 *
 * Roots are the stack, the callee-saved registers (pushed by the entry points, gc_entry.S) and the program's writable
 * segments (its PT_LOAD headers, as dl_iterate_phdr reports them). Any word that points into an
 * allocated object, its interior included, keeps the object alive.
 *
 * With GC_enable_incremental() collections become generational ("sticky mark bits", Demers et
 * al., POPL 1990, the scheme Boehm's incremental mode uses): a partial collection keeps the
 * marks of the objects that survived earlier collections and rescans only those on pages
 * written since the previous collection. Which pages were written comes from a virtual-dirty-bit
 * layer with four implementations, chosen by the environment variable GC_VARIANT at GC_init:
 *
 *   normal      mprotect + a SIGSEGV handler, an ordinary Linux process (stock Boehm on Linux)
 *   dune        inside Dune: dune_vm_mprotect on the guest page table, a #PF handler in ring 0,
 *               a whole-TLB flush on every protection change (what dune_vm_mprotect does)
 *   dune-tlb    inside Dune: the fault handler sets PTE_W of one page and INVLPGs it; the
 *               pages are write-protected in one walk with one flush per collection
 *   dune-dirty  inside Dune: no protection; the PTE dirty bits are harvested and cleared, with
 *               one flush (dune_vm_harvest_dirty)
 *
 * Other environment variables: GC_MAXIMUM_HEAP_SIZE (bytes reserved for the heap, default
 * 64 MiB; Boehm's name), GC_VERIFY=1 (after each collection's mark phase, a full trace from the
 * roots checks that nothing the sweep will free is reachable, and after the sweep that nothing
 * marked was freed; a failure is counted and printed).
 */
#ifndef DUNESIM_GC_H
#define DUNESIM_GC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gc_variant { GC_VARIANT_NORMAL, GC_VARIANT_DUNE, GC_VARIANT_DUNE_TLB, GC_VARIANT_DUNE_DIRTY };

struct GC_stats {
	uint64_t collections;      /* all collections */
	uint64_t full_collections; /* those that cleared every mark first */
	uint64_t bytes_allocated;  /* total, over the whole run */
	uint64_t heap_size;        /* largest committed heap, bytes */
	uint64_t dirty_pages;      /* pointer-holding pages found dirty, summed over collections */
	uint64_t faults;           /* write-barrier faults (SIGSEGV or #PF) */
	uint64_t protect_calls;    /* mprotect / dune_vm_mprotect calls, or protection walks */
	uint64_t tlb_flushes;      /* whole-TLB flushes the collector issued (CR3 reloads) */
	uint64_t tlb_invlpg;       /* single-page INVLPGs the collector issued */
	uint64_t verify_checks;    /* collections the verifier checked */
	uint64_t verify_failures;  /* objects the verifier found wrongly freed */
};

/* Reads GC_VARIANT (and the rest), reserves the heap and, for the Dune variants, enters Dune. */
void GC_init(void);
/* Zeroed memory that may hold pointers; never NULL (out of memory ends the process). */
void *GC_malloc(size_t size);
/* Memory the collector never scans for pointers, not zeroed. */
void *GC_malloc_atomic(size_t size);
/* A full collection. */
void GC_collect(void);
void GC_gcollect(void);
/* One partial collection (a full one when incremental mode is off or a full one is due). */
void GC_collect_a_little(void);
/* Turns on the dirty-page layer and partial (generational) collections. */
void GC_enable_incremental(void);

enum gc_variant GC_get_variant(void);
const char *GC_variant_name(void);
void GC_get_stats(struct GC_stats *out);
/* One `gc NAME VALUE` line per statistic, on stdout. */
void GC_print_stats(void);

#ifdef __cplusplus
}
#endif

#endif
