/*
 * The collector's internals, shared by its three parts: gc_heap.c (the heap, size classes,
 * allocation), gc_mark.c (roots, marking, sweeping, the verifier) and gc_dirty.c (the four
 * virtual-dirty-bit layers). Block headers live outside the heap, in a side table indexed by
 * page number, so that the collector never writes a heap page: only the program does, and the
 * dirty-page layer sees exactly the program's writes.
 */
#ifndef DUNESIM_GC_PRIVATE_H
#define DUNESIM_GC_PRIVATE_H

#include <stdint.h>
#include <stddef.h>

#include "gc.h"

#define GC_PAGE 4096UL
#define GC_PAGE_SHIFT 12
#define GC_GRANULE 16UL
#define GC_MAX_SMALL 2048UL
/* 256 objects of 16 bytes per page: four 64-bit words of mark and allocation bits. */
#define GC_BITWORDS 4

enum hblk_kind {
	HBLK_FREE = 0,
	HBLK_SMALL,      /* one page of equal-sized objects of one size class */
	HBLK_LARGE,      /* first page of one object of more than GC_MAX_SMALL bytes */
	HBLK_LARGE_TAIL, /* a following page of it: `run` is the distance back to the first */
	HBLK_RESERVED,   /* never allocated (the first page: see gc_heap.c) */
};

struct hblk {
	uint8_t kind;
	uint8_t atomic;  /* holds no pointers: never scanned, never write-protected */
	uint8_t cls;     /* size class of a SMALL block */
	uint8_t pad;
	uint16_t objsz;  /* object size in bytes (SMALL) */
	uint16_t nobj;   /* objects in the block (SMALL) */
	uint32_t run;    /* pages of a LARGE object; distance to its first page in a LARGE_TAIL */
	uint32_t next;   /* next block of the class with free slots (page number + 1; 0 ends) */
	uint64_t used[GC_BITWORDS]; /* allocated objects */
	uint64_t mark[GC_BITWORDS]; /* marked objects (kept across partial collections) */
};

struct gc_state {
	enum gc_variant variant;
	int initialised;
	int incremental;   /* the dirty-page layer is on: collections may be partial */
	int verify;
	uintptr_t heap_lo;       /* first byte of the reservation */
	size_t heap_max_pages;   /* pages reserved */
	size_t heap_pages;       /* pages committed to the heap so far */
	size_t free_pages;       /* committed pages of kind FREE */
	size_t free_rover;       /* where the next free-page search starts */
	struct hblk *hdr;        /* one header per reserved page */
	uint8_t *dirty;          /* one byte per page: written since the last read_dirty */
	void **dirty_list;       /* dune-dirty: the harvest's output */
	uintptr_t *mark_stack;
	size_t mark_stack_cap, mark_sp;
	int mark_overflow;
	uint64_t *vmark;         /* the verifier's own mark bits, GC_BITWORDS per page */
	uintptr_t stack_hi;      /* the stack's top (highest address scanned) */
	uintptr_t stack_lo;      /* the mutator's stack pointer at the collection */
	size_t bytes_since_gc;
	size_t live_bytes;            /* allocated bytes after the last sweep */
	size_t live_after_full;       /* live_bytes after the last full collection */
	size_t partial_since_full;
	int next_full;
	volatile int stack_dirty;  /* a barrier fault's handler ran on the stack since it was last cleared */
	struct GC_stats st;
};

extern struct gc_state GC_state;

/* gc_heap.c */
long gc_alloc_pages(size_t n);             /* first page of n contiguous free pages, or -1 */
void gc_free_pages(size_t page, size_t n);
void gc_reset_free_lists(void);
void gc_add_block_to_class(size_t page);
size_t gc_collect_trigger(void);

/* gc_mark.c */
extern uintptr_t gc_entry_sp;
void gc_collect_now(int full);
void gc_roots_init(void);

/* gc_dirty.c */
/* The barrier's fault handler: SIGSEGV (normal), or dune_init(0), dune_enter and a #PF handler. */
void gc_dirty_enter(void);
/* Fills GC_state.dirty for the committed pages and re-arms the barrier for the next cycle. */
void gc_read_dirty(void);

static inline struct hblk *gc_hdr(size_t page) { return &GC_state.hdr[page]; }
static inline uintptr_t gc_page_addr(size_t page) { return GC_state.heap_lo + (page << GC_PAGE_SHIFT); }

#endif
