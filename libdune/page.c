/*
 * The page pool (upstream libdune/page.c): 4 KiB pages at PAGEBASE, where guest-physical ==
 * host-virtual (the identity window), refcounted, handed out from a free list and grown 2 MiB
 * at a time with mmap(MAP_FIXED). Growing is a system call, so it works before dune_enter (a
 * plain SYSCALL) and inside Dune (the trampoline's VMCALL) alike; the guest page table maps the
 * whole pool range from dune_init on, and the EPT fills in as pages are touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dune.h"
#include "percpu.h"

struct page *pages;
int num_pages;
static struct page *free_list;
static int num_free;
static volatile int page_lock;

static void lock(void)
{
	while (__atomic_exchange_n(&page_lock, 1, __ATOMIC_ACQUIRE))
		while (page_lock)
			asm volatile("pause");
}

static void unlock(void)
{
	__atomic_store_n(&page_lock, 0, __ATOMIC_RELEASE);
}

/* Adds GROW_SIZE pages (called with the lock held). */
static int grow_size(void)
{
	void *want = (void *) (PAGEBASE + ((uintptr_t) num_pages << PGSHIFT));
	void *ptr;
	int i;

	if (num_pages + GROW_SIZE > (int) MAX_PAGES)
		return -ENOMEM;
	ptr = mmap(want, GROW_SIZE * PGSIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (ptr != want)
		return -ENOMEM;
	for (i = num_pages + GROW_SIZE - 1; i >= num_pages; i--) {
		pages[i].ref = 0;
		pages[i].next = free_list;
		free_list = &pages[i];
	}
	num_pages += GROW_SIZE;
	num_free += GROW_SIZE;
	return 0;
}

int dune_page_init(void)
{
	if (pages)
		return 0;
	pages = calloc(MAX_PAGES, sizeof(struct page));
	if (!pages)
		return -ENOMEM;
	lock();
	int ret = grow_size();
	unlock();
	return ret;
}

struct page *dune_page_alloc(void)
{
	struct page *pg;

	if (!pages)
		return NULL; /* before dune_init */
	lock();
	if (!free_list && grow_size()) {
		unlock();
		return NULL;
	}
	pg = free_list;
	free_list = pg->next;
	num_free--;
	unlock();
	pg->next = NULL;
	pg->ref = 1;
	return pg;
}

void dune_page_free(struct page *pg)
{
	if (pg->ref != 0) {
		fprintf(stderr, "dune: page 0x%lx freed with %lu references\n",
			(unsigned long) dune_page2pa(pg), (unsigned long) pg->ref);
		abort();
	}
	lock();
	pg->next = free_list;
	free_list = pg;
	num_free++;
	unlock();
}

void dune_page_stats(void)
{
	printf("dune: page pool: %d pages, %d free, %d in use\n", num_pages, num_free,
	       num_pages - num_free);
}

/* A pool page, zeroed (page tables, dune_vm_map_pages), at its identity address. */
void *dune_alloc_page_zeroed(void)
{
	struct page *pg = dune_page_alloc();
	void *p;

	if (!pg)
		return NULL;
	p = (void *) dune_page2pa(pg);
	memset(p, 0, PGSIZE);
	return p;
}
