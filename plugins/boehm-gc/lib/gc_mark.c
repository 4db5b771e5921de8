/*
 * Collections: roots, marking, the partial collection's dirty-page rescan, the sweep and the
 * verifier.
 *
 * Marks are sticky. A full collection clears them all and traces from the roots. A partial one
 * keeps them: an object that survived is assumed alive, and the only way it can have come to
 * point at an object allocated since is a store into it, which dirtied its page. So the roots
 * of a partial collection are the usual ones plus the marked objects on dirty pages, and the
 * trace stops at marked objects. Old garbage waits for the next full collection.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "gc_private.h"

#define MAX_ROOT_RANGES 16

extern char **environ;

static uintptr_t root_lo[MAX_ROOT_RANGES], root_hi[MAX_ROOT_RANGES];
static int nroots;
/* The program's stack pointer at the entry into the collector, below its saved registers (gc_entry.S). */
uintptr_t gc_entry_sp;
static int verifying;

static int add_segment(struct dl_phdr_info *info, size_t size, void *data)
{
	(void) size;
	(void) data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || nroots == MAX_ROOT_RANGES)
			continue;
		root_lo[nroots] = info->dlpi_addr + ph->p_vaddr;
		root_hi[nroots] = root_lo[nroots] + ph->p_memsz;
		nroots++;
	}
	return 0;
}

void gc_roots_init(void)
{
	/* The program's writable segments (.data, .bss and the rest of its RW PT_LOAD). */
	dl_iterate_phdr(add_segment, NULL);
	/*
	 * The stack's top: the kernel put the environment pointers above main's frame, and nothing
	 * above them (auxv, strings) points into the heap. Taken now, before anything could make
	 * environ a copy elsewhere.
	 */
	GC_state.stack_hi = (uintptr_t) environ;
}

static inline uint64_t *mark_bits(struct hblk *h, size_t page)
{
	return verifying ? &GC_state.vmark[page * GC_BITWORDS] : h->mark;
}

static inline void push(uintptr_t obj)
{
	struct gc_state *g = &GC_state;
	if (g->mark_sp == g->mark_stack_cap) {
		g->mark_overflow = 1; /* marked but not scanned: rescan_marked() finds it */
		return;
	}
	g->mark_stack[g->mark_sp++] = obj;
}

/* A word that may be a pointer: if it points into an allocated object, mark it and queue it. */
static inline void mark_word(uintptr_t p)
{
	struct gc_state *g = &GC_state;
	uintptr_t off = p - g->heap_lo;
	if (off >= (g->heap_pages << GC_PAGE_SHIFT))
		return;
	size_t page = off >> GC_PAGE_SHIFT;
	struct hblk *h = &g->hdr[page];
	unsigned i = 0;
	switch (h->kind) {
	case HBLK_SMALL:
		i = (unsigned) ((off & (GC_PAGE - 1)) / h->objsz);
		if (i >= h->nobj)
			return;
		break;
	case HBLK_LARGE_TAIL:
		page -= h->run;
		h = &g->hdr[page];
		break;
	case HBLK_LARGE:
		break;
	default:
		return;
	}
	uint64_t bit = 1UL << (i & 63), *mark = mark_bits(h, page);
	unsigned w = i >> 6;
	if (!(h->used[w] & bit) || (mark[w] & bit))
		return;
	mark[w] |= bit;
	if (!h->atomic)
		push(gc_page_addr(page) + (uintptr_t) i * (h->kind == HBLK_SMALL ? h->objsz : 0));
}

static void scan_range(uintptr_t lo, uintptr_t hi)
{
	lo = (lo + 7) & ~7UL;
	for (uintptr_t p = lo; p + 8 <= hi; p += 8)
		mark_word(*(const uintptr_t *) p);
}

static void scan_object(uintptr_t obj)
{
	size_t page = (obj - GC_state.heap_lo) >> GC_PAGE_SHIFT;
	struct hblk *h = gc_hdr(page);
	size_t len = h->kind == HBLK_SMALL ? h->objsz : (size_t) h->run << GC_PAGE_SHIFT;
	scan_range(obj, obj + len);
}

static void drain(void)
{
	struct gc_state *g = &GC_state;
	while (g->mark_sp > 0)
		scan_object(g->mark_stack[--g->mark_sp]);
}

/* After an overflow: scan every marked pointer-holding object again, until nothing overflows. */
static void rescan_marked(void)
{
	struct gc_state *g = &GC_state;
	while (g->mark_overflow) {
		g->mark_overflow = 0;
		for (size_t page = 1; page < g->heap_pages; page++) {
			struct hblk *h = gc_hdr(page);
			if (h->atomic || (h->kind != HBLK_SMALL && h->kind != HBLK_LARGE))
				continue;
			uint64_t *mark = mark_bits(h, page);
			unsigned n = h->kind == HBLK_SMALL ? h->nobj : 1;
			for (unsigned i = 0; i < n; i++)
				if (mark[i >> 6] & (1UL << (i & 63))) {
					scan_object(gc_page_addr(page) + (uintptr_t) i * (h->kind == HBLK_SMALL ? h->objsz : 0));
					drain();
				}
		}
	}
}

static void trace_from_roots(void)
{
	for (int r = 0; r < nroots; r++)
		scan_range(root_lo[r], root_hi[r]);
	scan_range(GC_state.stack_lo, GC_state.stack_hi);
	drain();
	rescan_marked();
}

/* Partial collection: the surviving objects on pages written since the last collection. */
static void scan_dirty_pages(void)
{
	struct gc_state *g = &GC_state;
	for (size_t page = 1; page < g->heap_pages; page++) {
		if (!g->dirty[page])
			continue;
		struct hblk *h = gc_hdr(page);
		if (h->atomic)
			continue;
		if (h->kind == HBLK_SMALL) {
			g->st.dirty_pages++;
			for (unsigned i = 0; i < h->nobj; i++)
				if (h->mark[i >> 6] & (1UL << (i & 63)))
					scan_range(gc_page_addr(page) + (uintptr_t) i * h->objsz,
						   gc_page_addr(page) + (uintptr_t) (i + 1) * h->objsz);
		} else if (h->kind == HBLK_LARGE || h->kind == HBLK_LARGE_TAIL) {
			g->st.dirty_pages++;
			size_t head = h->kind == HBLK_LARGE ? page : page - h->run;
			if (gc_hdr(head)->mark[0] & 1)
				scan_range(gc_page_addr(page), gc_page_addr(page) + GC_PAGE);
		}
		drain();
	}
	rescan_marked();
}

/*
 * The verifier, between mark and sweep: a full trace from the same roots into separate mark
 * bits. An allocated object it reaches that the collection left unmarked is one the sweep would
 * free while reachable: a missed dirty page, a lost root, a marking bug.
 */
static void verify(void)
{
	struct gc_state *g = &GC_state;
	memset(g->vmark, 0, g->heap_pages * GC_BITWORDS * sizeof(uint64_t));
	verifying = 1;
	trace_from_roots();
	verifying = 0;
	uint64_t bad = 0;
	for (size_t page = 1; page < g->heap_pages; page++) {
		struct hblk *h = gc_hdr(page);
		if (h->kind != HBLK_SMALL && h->kind != HBLK_LARGE)
			continue;
		for (unsigned w = 0; w < GC_BITWORDS; w++)
			bad += (uint64_t) __builtin_popcountl(g->vmark[page * GC_BITWORDS + w] & h->used[w] & ~h->mark[w]);
	}
	g->st.verify_checks++;
	if (bad) {
		g->st.verify_failures += bad;
		fprintf(stderr, "gc: verifier: collection %llu would free %llu reachable objects\n",
			(unsigned long long) g->st.collections, (unsigned long long) bad);
	}
}

static void sweep(void)
{
	struct gc_state *g = &GC_state;
	gc_reset_free_lists();
	g->live_bytes = 0;
	for (size_t page = 1; page < g->heap_pages; page++) {
		struct hblk *h = gc_hdr(page);
		if (h->kind == HBLK_SMALL) {
			uint64_t any = 0, room = 0;
			for (unsigned w = 0; w < GC_BITWORDS; w++) {
				h->used[w] &= h->mark[w];
				any |= h->used[w];
			}
			for (unsigned w = 0; w < GC_BITWORDS && w * 64 < h->nobj; w++) {
				unsigned left = h->nobj - w * 64;
				uint64_t valid = left >= 64 ? ~0UL : (1UL << left) - 1;
				room |= ~h->used[w] & valid;
			}
			for (unsigned w = 0; w < GC_BITWORDS; w++)
				g->live_bytes += (size_t) __builtin_popcountl(h->used[w]) * h->objsz;
			if (!any)
				gc_free_pages(page, 1);
			else if (room)
				gc_add_block_to_class(page);
		} else if (h->kind == HBLK_LARGE) {
			size_t n = h->run;
			if (h->mark[0] & 1)
				g->live_bytes += n << GC_PAGE_SHIFT;
			else
				gc_free_pages(page, n);
			page += n - 1;
		}
	}
}

void gc_collect_now(int full)
{
	struct gc_state *g = &GC_state;
	/* The program's stack and its callee-saved registers, as gc_entry.S left them. */
	g->stack_lo = gc_entry_sp;
	g->st.collections++;
	if (full) {
		g->st.full_collections++;
		g->partial_since_full = 0;
		g->next_full = 0;
	} else {
		g->partial_since_full++;
	}
	if (g->incremental)
		gc_read_dirty();
	if (full) {
		for (size_t page = 1; page < g->heap_pages; page++)
			memset(gc_hdr(page)->mark, 0, sizeof(gc_hdr(page)->mark));
	} else {
		scan_dirty_pages();
	}
	trace_from_roots();
	if (g->verify)
		verify();
	sweep();
	g->bytes_since_gc = 0;
	/*
	 * Boehm's rule for when partial collections stop paying: once what they leave allocated has
	 * grown past what the last full collection left by more than one collection's worth of
	 * allocation, the garbage among the old objects is worth a full collection.
	 */
	if (full)
		g->live_after_full = g->live_bytes;
	else if (g->live_bytes > g->live_after_full + gc_collect_trigger())
		g->next_full = 1;
}

/* GC_collect and GC_gcollect are gc_entry.S. */
void gc_collect_impl(void)
{
	if (!GC_state.initialised)
		GC_init();
	gc_collect_now(1);
}
