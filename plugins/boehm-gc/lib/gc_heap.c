/*
 * The heap: one reservation of GC_MAXIMUM_HEAP_SIZE bytes, committed a run of pages at a time.
 * A page is either free, a block of one size class (objects up to 2 KiB, never crossing a page,
 * so that a dirty page names the objects to rescan), or part of one large object. Allocation
 * takes the next clear bit of a block's allocation bitmap; the sweep rebuilds, per class, the
 * list of blocks with clear bits. Nothing the allocator keeps is inside the heap.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gc_private.h"

struct gc_state GC_state;

/* Size classes in bytes, multiples of the 16-byte granule (an x86-64 malloc's alignment). */
static const uint16_t class_size[] = {
	16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
	640, 768, 1024, 1360, 2048,
};
#define NCLASSES (sizeof(class_size) / sizeof(class_size[0]))

static uint8_t granule_class[GC_MAX_SMALL / GC_GRANULE + 1];
/* Per [atomic][class]: the block being allocated from and the list of blocks with room (page + 1). */
static uint32_t cur_block[2][NCLASSES];
static uint32_t class_list[2][NCLASSES];
static int just_collected_partial;

/* Boehm's defaults: GC_FREE_SPACE_DIVISOR 3 (collect after allocating a third of the heap),
 * GC_full_freq 19 (19 partial collections between two full ones). */
#define FREE_SPACE_DIVISOR 3
#define FULL_FREQ 19
#define MIN_BYTES_BEFORE_GC (64UL << 10)
#define MIN_GROWTH_PAGES 64

static void die(const char *msg)
{
	fprintf(stderr, "gc: %s\n", msg);
	exit(1);
}

static void *reserve(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		die("cannot reserve memory (mmap failed)");
	return p;
}

static size_t env_size(const char *name, size_t dflt, size_t lo, size_t hi)
{
	const char *s = getenv(name);
	if (s == NULL || *s == '\0')
		return dflt;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "gc: %s='%s' is not a number of bytes from %zu to %zu\n", name, s, lo, hi);
		exit(2);
	}
	return (size_t) v;
}

static enum gc_variant parse_variant(void)
{
	const char *s = getenv("GC_VARIANT");
	if (s == NULL || *s == '\0' || strcmp(s, "normal") == 0)
		return GC_VARIANT_NORMAL;
	if (strcmp(s, "dune") == 0)
		return GC_VARIANT_DUNE;
	if (strcmp(s, "dune-tlb") == 0)
		return GC_VARIANT_DUNE_TLB;
	if (strcmp(s, "dune-dirty") == 0)
		return GC_VARIANT_DUNE_DIRTY;
	fprintf(stderr, "gc: unknown GC_VARIANT '%s' (normal, dune, dune-tlb or dune-dirty)\n", s);
	exit(2);
}

void GC_init(void)
{
	struct gc_state *g = &GC_state;
	if (g->initialised)
		return;
	g->variant = parse_variant();
	const char *v = getenv("GC_VERIFY");
	g->verify = v != NULL && strcmp(v, "1") == 0;
	size_t max = env_size("GC_MAXIMUM_HEAP_SIZE", 64UL << 20, 1UL << 20, 2UL << 30);
	g->heap_max_pages = (max + GC_PAGE - 1) >> GC_PAGE_SHIFT;

	for (size_t gr = 0, c = 0; gr <= GC_MAX_SMALL / GC_GRANULE; gr++) {
		while (class_size[c] < gr * GC_GRANULE)
			c++;
		granule_class[gr] = (uint8_t) c;
	}

	/*
	 * Everything the collector needs is mapped now, before a Dune variant enters Dune: libDune's
	 * precise mode puts the VMAs that exist at dune_init into the guest page table, so the heap
	 * and the side tables never fault for want of a mapping.
	 */
	g->heap_lo = (uintptr_t) reserve(g->heap_max_pages * GC_PAGE);
	g->hdr = reserve(g->heap_max_pages * sizeof(struct hblk));
	g->dirty = reserve(g->heap_max_pages);
	g->dirty_list = reserve(g->heap_max_pages * sizeof(void *));
	g->mark_stack_cap = 1UL << 16;
	g->mark_stack = reserve(g->mark_stack_cap * sizeof(uintptr_t));
	if (g->verify)
		g->vmark = reserve(g->heap_max_pages * GC_BITWORDS * sizeof(uint64_t));
	/* GC_state.heap_lo itself is a root word: the first page holds no object for it to keep. */
	g->hdr[0].kind = HBLK_RESERVED;
	g->heap_pages = 1;
	g->st.heap_size = GC_PAGE;

	gc_roots_init();
	gc_dirty_enter();
	g->initialised = 1;
}

void GC_enable_incremental(void)
{
	GC_init();
	if (GC_state.incremental)
		return;
	/* The first partial collection needs every surviving object marked: start from a full one. */
	GC_state.incremental = 1;
	GC_state.next_full = 1;
}

enum gc_variant GC_get_variant(void) { return GC_state.variant; }

const char *GC_variant_name(void)
{
	static const char *const names[] = { "normal", "dune", "dune-tlb", "dune-dirty" };
	return names[GC_state.variant];
}

/* First-fit from [from, total): the first page of n free pages in a row, or -1. */
static long find_run(size_t from, size_t n)
{
	struct gc_state *g = &GC_state;
	size_t p = from;
	while (p + n <= g->heap_pages) {
		size_t k = 0;
		while (k < n && g->hdr[p + k].kind == HBLK_FREE)
			k++;
		if (k == n)
			return (long) p;
		p += k + 1;
	}
	return -1;
}

long gc_alloc_pages(size_t n)
{
	struct gc_state *g = &GC_state;
	if (g->free_pages < n)
		return -1;
	long p = find_run(g->free_rover, n);
	if (p < 0)
		p = find_run(1, n);
	if (p < 0)
		return -1;
	g->free_pages -= n;
	g->free_rover = (size_t) p + n;
	return p;
}

void gc_free_pages(size_t page, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct hblk *h = &GC_state.hdr[page + i];
		memset(h, 0, sizeof(*h));
	}
	GC_state.free_pages += n;
}

void gc_reset_free_lists(void)
{
	memset(cur_block, 0, sizeof(cur_block));
	memset(class_list, 0, sizeof(class_list));
}

void gc_add_block_to_class(size_t page)
{
	struct hblk *h = gc_hdr(page);
	h->next = class_list[h->atomic][h->cls];
	class_list[h->atomic][h->cls] = (uint32_t) (page + 1);
}

/* Bytes to allocate between two collections: a third of the heap, at least 64 KiB. */
size_t gc_collect_trigger(void)
{
	size_t trigger = GC_state.heap_pages * GC_PAGE / FREE_SPACE_DIVISOR;
	return trigger < MIN_BYTES_BEFORE_GC ? MIN_BYTES_BEFORE_GC : trigger;
}

static int should_collect(void)
{
	return GC_state.bytes_since_gc >= gc_collect_trigger();
}

static void collect_auto(void)
{
	struct gc_state *g = &GC_state;
	int full = !g->incremental || g->next_full || g->partial_since_full >= FULL_FREQ;
	gc_collect_now(full);
	just_collected_partial = !full;
}

void gc_collect_a_little_impl(void)
{
	if (!GC_state.initialised)
		GC_init();
	collect_auto();
}

/* Commits at least n more pages (a quarter of the heap, at least 256 KiB); 0 when the reservation is used up. */
static int grow(size_t n)
{
	struct gc_state *g = &GC_state;
	size_t add = g->heap_pages / 4;
	if (add < MIN_GROWTH_PAGES)
		add = MIN_GROWTH_PAGES;
	if (add < n)
		add = n;
	if (g->heap_pages + add > g->heap_max_pages)
		add = g->heap_max_pages - g->heap_pages;
	if (add < n)
		return 0;
	/* Fresh pages are FREE (zeroed headers) and read as zero: the reservation is untouched. */
	g->free_rover = g->heap_pages;
	g->heap_pages += add;
	g->free_pages += add;
	if (g->heap_pages * GC_PAGE > g->st.heap_size)
		g->st.heap_size = g->heap_pages * GC_PAGE;
	return 1;
}

/*
 * Zeroes the stack just below the caller's frame, where the allocator's and the collector's
 * frames are about to be (Boehm's GC_clear_stack does the like). A barrier fault's handler ran
 * there: a SIGSEGV frame or a #PF trap frame, full of the registers of the moment. The slots
 * the next frames never write would show those words to the conservative scan, which would
 * keep what they point to (in a linked list, the whole rest of a dead list), and the variants
 * that take faults would retain more than the one that takes none. Done when a fault has
 * happened since the last time (the handlers set stack_dirty), before the slow path.
 */
static __attribute__((noinline)) void clear_stack_below(void)
{
	volatile uintptr_t junk[512];
	for (unsigned i = 0; i < 512; i++)
		junk[i] = 0;
	(void) junk[0];
}

/* n free pages, after a collection or growth as Boehm's policy says; -1 means retry the lists. */
static long obtain_pages(size_t n, int small)
{
	struct gc_state *g = &GC_state;
	if (should_collect()) {
		collect_auto();
		if (small)
			return -1;
	}
	long p = gc_alloc_pages(n);
	if (p >= 0)
		return p;
	/* A partial collection leaves old garbage: try a full one before growing the heap. */
	if (just_collected_partial && g->bytes_since_gc == 0) {
		gc_collect_now(1);
		just_collected_partial = 0;
		if (small)
			return -1;
		if ((p = gc_alloc_pages(n)) >= 0)
			return p;
	}
	if (!grow(n)) {
		gc_collect_now(1);
		if ((p = gc_alloc_pages(n)) >= 0)
			return p;
		fprintf(stderr, "gc: out of memory: the heap reached GC_MAXIMUM_HEAP_SIZE (%zu bytes)\n",
			g->heap_max_pages * GC_PAGE);
		exit(1);
	}
	return gc_alloc_pages(n);
}

static void *alloc_large(size_t size, int atomic)
{
	struct gc_state *g = &GC_state;
	size_t n = (size + GC_PAGE - 1) >> GC_PAGE_SHIFT;
	if (n >= g->heap_max_pages)
		die("out of memory: an object larger than the heap reservation");
	long p = obtain_pages(n, 0);
	struct hblk *h = gc_hdr((size_t) p);
	h->kind = HBLK_LARGE;
	h->atomic = (uint8_t) atomic;
	h->run = (uint32_t) n;
	h->used[0] = 1;
	for (size_t i = 1; i < n; i++) {
		struct hblk *t = gc_hdr((size_t) p + i);
		t->kind = HBLK_LARGE_TAIL;
		t->atomic = (uint8_t) atomic;
		t->run = (uint32_t) i;
	}
	void *obj = (void *) gc_page_addr((size_t) p);
	if (!atomic)
		memset(obj, 0, n * GC_PAGE);
	g->bytes_since_gc += n * GC_PAGE;
	g->st.bytes_allocated += n * GC_PAGE;
	return obj;
}

/* The next free slot of the class's current block, or of the blocks on its list; NULL if none. */
static inline void *alloc_from_block(size_t size, int atomic)
{
	struct gc_state *g = &GC_state;
	unsigned c = granule_class[(size + GC_GRANULE - 1) / GC_GRANULE];
	for (;;) {
		uint32_t b = cur_block[atomic][c];
		if (b != 0) {
			struct hblk *h = gc_hdr(b - 1);
			for (unsigned w = 0; w < GC_BITWORDS && w * 64 < h->nobj; w++) {
				unsigned left = h->nobj - w * 64;
				uint64_t valid = left >= 64 ? ~0UL : (1UL << left) - 1;
				uint64_t room = ~h->used[w] & valid;
				if (room == 0)
					continue;
				unsigned i = w * 64 + (unsigned) __builtin_ctzl(room);
				h->used[w] |= 1UL << (i & 63);
				void *obj = (void *) (gc_page_addr(b - 1) + (uintptr_t) i * h->objsz);
				if (!atomic)
					memset(obj, 0, h->objsz);
				g->bytes_since_gc += h->objsz;
				g->st.bytes_allocated += h->objsz;
				return obj;
			}
			cur_block[atomic][c] = 0;
		}
		if (class_list[atomic][c] == 0)
			return NULL;
		uint32_t n = class_list[atomic][c];
		class_list[atomic][c] = gc_hdr(n - 1)->next;
		cur_block[atomic][c] = n;
	}
}

static void *alloc_small(size_t size, int atomic)
{
	unsigned c = granule_class[(size + GC_GRANULE - 1) / GC_GRANULE];
	for (;;) {
		void *obj = alloc_from_block(size, atomic);
		if (obj != NULL)
			return obj;
		long p = obtain_pages(1, 1);
		if (p < 0)
			continue; /* a collection rebuilt the lists */
		struct hblk *h = gc_hdr((size_t) p);
		memset(h, 0, sizeof(*h));
		h->kind = HBLK_SMALL;
		h->atomic = (uint8_t) atomic;
		h->cls = (uint8_t) c;
		h->objsz = class_size[c];
		h->nobj = (uint16_t) (GC_PAGE / class_size[c]);
		cur_block[atomic][c] = (uint32_t) p + 1;
	}
}

static __attribute__((noinline)) void *alloc_slow(size_t size, int atomic)
{
	if (size > GC_MAX_SMALL)
		return alloc_large(size, atomic);
	return alloc_small(size, atomic);
}

static inline void *gc_alloc(size_t size, int atomic)
{
	if (!GC_state.initialised)
		GC_init();
	if (size == 0)
		size = 1;
	if (size <= GC_MAX_SMALL) {
		void *obj = alloc_from_block(size, atomic);
		if (obj != NULL)
			return obj;
	}
	if (GC_state.stack_dirty) {
		GC_state.stack_dirty = 0;
		clear_stack_below();
	}
	return alloc_slow(size, atomic);
}

/* GC_malloc and GC_malloc_atomic are gc_entry.S, which records the stack pointer and calls these. */
void *gc_malloc_impl(size_t size) { return gc_alloc(size, 0); }
void *gc_malloc_atomic_impl(size_t size) { return gc_alloc(size, 1); }

void GC_get_stats(struct GC_stats *out) { *out = GC_state.st; }

void GC_print_stats(void)
{
	const struct GC_stats *s = &GC_state.st;
	printf("gc variant %s\n", GC_variant_name());
	printf("gc collections %llu\n", (unsigned long long) s->collections);
	printf("gc full_collections %llu\n", (unsigned long long) s->full_collections);
	printf("gc bytes_allocated %llu\n", (unsigned long long) s->bytes_allocated);
	printf("gc heap_size %llu\n", (unsigned long long) s->heap_size);
	printf("gc dirty_pages %llu\n", (unsigned long long) s->dirty_pages);
	printf("gc faults %llu\n", (unsigned long long) s->faults);
	printf("gc protect_calls %llu\n", (unsigned long long) s->protect_calls);
	printf("gc tlb_flushes %llu\n", (unsigned long long) s->tlb_flushes);
	printf("gc tlb_invlpg %llu\n", (unsigned long long) s->tlb_invlpg);
	printf("gc verify_checks %llu\n", (unsigned long long) s->verify_checks);
	printf("gc verify_failures %llu\n", (unsigned long long) s->verify_failures);
	fflush(stdout);
}
