/*
 * The guest page-table manager (upstream libdune/vm.c): 4-level x86-64 tables in pool pages,
 * walked and written by the program itself in guest ring 0. Page-table pages come from the
 * pool, whose guest-physical addresses equal their virtual ones, so a PTE's address is a pointer.
 */
#include <string.h>

#include "dune.h"
#include "percpu.h"

static inline bool pte_present(ptent_t pte)
{
	return (pte & PTE_P) != 0;
}

static inline bool pte_big(ptent_t pte)
{
	return (pte & PTE_PS) != 0;
}

/* get_pte_perm: PERM_* to PTE bits. */
static ptent_t get_pte_perm(int perm)
{
	ptent_t pte_perm = 0;

	if (perm & PERM_R)
		pte_perm |= PTE_P;
	if (perm & PERM_W)
		pte_perm |= PTE_W;
	if (!(perm & PERM_X))
		pte_perm |= PTE_NX;
	if (perm & PERM_U)
		pte_perm |= PTE_U;
	if (perm & PERM_UC)
		pte_perm |= PTE_PCD;
	if (perm & PERM_COW)
		pte_perm |= PTE_COW;
	if (perm & PERM_USR1)
		pte_perm |= PTE_USR1;
	if (perm & PERM_USR2)
		pte_perm |= PTE_USR2;
	if ((perm & PERM_USR3) == PERM_USR3)
		pte_perm |= PTE_USR3;
	if (perm & (PERM_BIG | PERM_BIG_1GB))
		pte_perm |= PTE_PS;

	return pte_perm;
}

/* A zeroed pool page for a page table. */
static ptent_t *alloc_table(void)
{
	return dune_alloc_page_zeroed();
}

/* The frame of a 4 KiB leaf that came from the pool (a 2 MiB or 1 GiB leaf never holds a ref). */
static inline void put_leaf_page(ptent_t pte, int level)
{
	if (level == 0 && dune_page_isfrompool(PTE_ADDR(pte)))
		dune_page_put(dune_pa2page(PTE_ADDR(pte)));
}

/*
 * The entry for va at `level` (0 = PTE, 1 = PDE, 2 = PDPTE), creating missing tables (P|W|U,
 * so that the leaf alone decides the permission) when create; stops early at a larger leaf.
 */
static int lookup_level(ptent_t *root, void *va, int level, int create, ptent_t **pte_out,
			int *found_level)
{
	ptent_t *dir = root;
	int l;

	for (l = NPTLVLS; l > level; l--) {
		ptent_t *e = &dir[PDX(l, va)];
		if (l < NPTLVLS && pte_big(*e) && pte_present(*e)) {
			*pte_out = e;
			if (found_level)
				*found_level = l;
			return 0;
		}
		if (!pte_present(*e)) {
			ptent_t *t;
			if (!create)
				return -ENOENT;
			t = alloc_table();
			if (!t)
				return -ENOMEM;
			*e = PTE_ADDR(t) | PTE_DEF_FLAGS;
		}
		dir = (ptent_t *) PTE_ADDR(*e);
	}
	*pte_out = &dir[PDX(level, va)];
	if (found_level)
		*found_level = level;
	return 0;
}

/*
 * A missing table below *e: a zeroed pool page linked in P|W|U, or NULL. Out of line and cold, so
 * that the look-up's usual path (every table present) keeps no registers for it.
 */
static __attribute__((noinline, cold)) ptent_t *link_new_table(ptent_t *e)
{
	ptent_t *t = alloc_table();

	if (t)
		*e = PTE_ADDR(t) | PTE_DEF_FLAGS;
	return t;
}

/*
 * The four levels written out one after another, as upstream's dune_vm_lookup is: the look-up is
 * on every Appel-style fault handler's path, and its instructions are what such a handler pays
 * (a loop over the levels, as lookup_level is, runs about twice as many). Stops early at a
 * 1 GiB or 2 MiB leaf.
 */
int dune_vm_lookup(ptent_t *root, void *va, int create, ptent_t **pte_out)
{
	ptent_t *pdpte, *pde, *pte;

	if (!root || !pte_out)
		return -EINVAL;

	if (!pte_present(root[PDX(3, va)])) {
		if (!create)
			return -ENOENT;
		if (!(pdpte = link_new_table(&root[PDX(3, va)])))
			return -ENOMEM;
	} else
		pdpte = (ptent_t *) PTE_ADDR(root[PDX(3, va)]);

	if (!pte_present(pdpte[PDX(2, va)])) {
		if (!create)
			return -ENOENT;
		if (!(pde = link_new_table(&pdpte[PDX(2, va)])))
			return -ENOMEM;
	} else if (pte_big(pdpte[PDX(2, va)])) {
		*pte_out = &pdpte[PDX(2, va)];
		return 0;
	} else
		pde = (ptent_t *) PTE_ADDR(pdpte[PDX(2, va)]);

	if (!pte_present(pde[PDX(1, va)])) {
		if (!create)
			return -ENOENT;
		if (!(pte = link_new_table(&pde[PDX(1, va)])))
			return -ENOMEM;
	} else if (pte_big(pde[PDX(1, va)])) {
		*pte_out = &pde[PDX(1, va)];
		return 0;
	} else
		pte = (ptent_t *) PTE_ADDR(pde[PDX(1, va)]);

	*pte_out = &pte[PDX(0, va)];
	return 0;
}

/*
 * Visits the leaves of [start_va, end_va] (end inclusive) under dir, a table at `level`: a 4 KiB
 * PTE that is not zero (a PERM_NONE page keeps its address, so a later mprotect finds it), and a
 * PS=1 entry at levels 1 and 2. With create, missing tables are made, and the callback sees
 * every PTE (CREATE_NORMAL) or every PDE (CREATE_BIG) or PDPTE (CREATE_BIG_1GB) in the range.
 */
int __dune_vm_page_walk(ptent_t *dir, void *start_va, void *end_va,
			page_walk_cb cb, const void *arg, int level, int create)
{
	uintptr_t start = (uintptr_t) start_va, end = (uintptr_t) end_va;
	int shift = PDSHIFT(level);
	int i, start_idx = PDX(level, start), end_idx = PDX(level, end);
	uintptr_t base = start & ~((1UL << (shift + NPTBITS)) - 1);
	int leaf_level = create == CREATE_BIG ? 1 : create == CREATE_BIG_1GB ? 2 : 0;
	int ret;

	if (level == NPTLVLS)
		base = 0;
	for (i = start_idx; i <= end_idx; i++) {
		ptent_t *pte = &dir[i];
		uintptr_t va = base + ((uintptr_t) i << shift);
		uintptr_t n_start, n_end;

		if (level == NPTLVLS && i >= 256)
			va |= 0xffff000000000000UL; /* the upper half is sign-extended */
		n_start = i == start_idx ? start : va;
		n_end = i == end_idx ? end : va + (1UL << shift) - 1;

		if (level == leaf_level && create) {
			if ((ret = cb(arg, pte, (void *) va)))
				return ret;
			continue;
		}
		if (level == 0) {
			if (*pte && (ret = cb(arg, pte, (void *) va)))
				return ret;
			continue;
		}
		if (pte_present(*pte) && pte_big(*pte) && level < NPTLVLS) {
			if ((ret = cb(arg, pte, (void *) va)))
				return ret;
			continue;
		}
		if (!pte_present(*pte)) {
			ptent_t *t;
			if (!create)
				continue;
			if (!(t = alloc_table()))
				return -ENOMEM;
			*pte = PTE_ADDR(t) | PTE_DEF_FLAGS;
		}
		ret = __dune_vm_page_walk((ptent_t *) PTE_ADDR(*pte), (void *) n_start, (void *) n_end,
					  cb, arg, level - 1, create);
		if (ret)
			return ret;
	}
	return 0;
}

int dune_vm_page_walk(ptent_t *root, void *start_va, void *end_va, page_walk_cb cb, const void *arg)
{
	if (!root || !cb)
		return -EINVAL;
	return __dune_vm_page_walk(root, start_va, end_va, cb, arg, NPTLVLS, CREATE_NONE);
}

/*
 * dune_vm_map_phys: [va, va + len) → [pa, pa + len) with perm, in 4 KiB leaves (2 MiB with
 * PERM_BIG, 1 GiB with PERM_BIG_1GB). One lookup per page table, then its entries in a row:
 * dune_init maps whole windows this way.
 */
int dune_vm_map_phys(ptent_t *root, void *va, size_t len, void *pa, int perm)
{
	uintptr_t v = (uintptr_t) va, p = (uintptr_t) pa, end = v + len;
	ptent_t flags = get_pte_perm(perm);
	int level = (perm & PERM_BIG_1GB) ? 2 : (perm & PERM_BIG) ? 1 : 0;
	uintptr_t size = 1UL << PDSHIFT(level);
	int ret;

	if (!root || (perm & PERM_W && !(perm & PERM_R)))
		return -EINVAL;
	if ((v | p | len) & (size - 1))
		return -EINVAL;
	while (v < end) {
		ptent_t *pte;
		uintptr_t table_end;
		int found;
		if ((ret = lookup_level(root, (void *) v, level, CREATE_NORMAL, &pte, &found)))
			return ret;
		if (found != level)
			return -EEXIST; /* a larger leaf covers it: unmap it first */
		table_end = (v | ((size << NPTBITS) - 1)) + 1;
		if (table_end > end || table_end == 0)
			table_end = end;
		for (; v < table_end; v += size, p += size)
			*pte++ = PTE_ADDR(p) | flags;
	}
	return 0;
}

/* dune_vm_map_pages: a fresh zeroed pool page at each 4 KiB page of [va, va + len). */
int dune_vm_map_pages(ptent_t *root, void *va, size_t len, int perm)
{
	uintptr_t v = PGADDR(va), end = (uintptr_t) va + len;
	ptent_t flags = get_pte_perm(perm);
	int ret;

	if (!root)
		return -EINVAL;
	if (!(perm & PERM_R) && (perm & ~PERM_R))
		return -EINVAL;
	/* dunesim: pool pages are 4 KiB; a PS bit here would be PAT in a PTE. */
	if (perm & (PERM_BIG | PERM_BIG_1GB))
		return -EINVAL;
	for (; v < end; v += PGSIZE) {
		ptent_t *pte;
		void *pg;
		int found;
		if ((ret = lookup_level(root, (void *) v, 0, CREATE_NORMAL, &pte, &found)))
			return ret;
		if (found != 0)
			return -EEXIST; /* a 2 MiB or 1 GiB leaf covers it */
		if (!(pg = dune_alloc_page_zeroed()))
			return -ENOMEM;
		put_leaf_page(*pte, 0);
		*pte = PTE_ADDR(pg) | flags;
	}
	return 0;
}

struct mprotect_arg {
	ptent_t perm;
};

static int __dune_vm_mprotect_helper(const void *arg, ptent_t *pte, void *va)
{
	(void) va;
	ptent_t perm = ((const struct mprotect_arg *) arg)->perm;
	*pte = PTE_ADDR(*pte) | (PTE_FLAGS(*pte) & PTE_PS) | perm;
	return 0;
}

/*
 * dune_vm_mprotect: new permissions for the existing leaves of [va, va + len), keeping their
 * addresses and sizes; no PERM_R makes them not present. Flushes the whole TLB.
 */
int dune_vm_mprotect(ptent_t *root, void *va, size_t len, int perm)
{
	struct mprotect_arg a;
	int ret;

	if (!root)
		return -EINVAL;
	if (!(perm & PERM_R)) {
		if (perm & PERM_W)
			return -EINVAL;
		perm = PERM_NONE;
	}
	a.perm = get_pte_perm(perm & ~(PERM_BIG | PERM_BIG_1GB));
	ret = __dune_vm_page_walk(root, va, (char *) va + len - 1,
				  &__dune_vm_mprotect_helper, &a, NPTLVLS, CREATE_NONE);
	if (ret)
		return ret;
	dune_flush_tlb();
	return 0;
}

static int __dune_vm_free_helper(const void *arg, ptent_t *pte, void *va)
{
	(void) arg;
	(void) va;
	/* A 4 KiB leaf is a PTE: it sits in a table whose entries are all PTEs (no PS leaves). */
	put_leaf_page(*pte, pte_big(*pte) ? 1 : 0);
	*pte = 0;
	return 0;
}

/* dune_vm_unmap: clears the leaves of [va, va + len), drops pool references, flushes the TLB. */
void dune_vm_unmap(ptent_t *root, void *va, size_t len)
{
	if (!root || len == 0)
		return;
	__dune_vm_page_walk(root, va, (char *) va + len - 1, &__dune_vm_free_helper, NULL,
			    NPTLVLS, CREATE_NONE);
	dune_flush_tlb();
}

int dune_vm_insert_page(ptent_t *root, void *va, struct page *pg, int perm)
{
	ptent_t *pte;
	int ret;

	if (!root || !pg)
		return -EINVAL;
	if ((ret = dune_vm_lookup(root, va, CREATE_NORMAL, &pte)))
		return ret;
	dune_page_get(pg);
	put_leaf_page(*pte, 0);
	*pte = PTE_ADDR(dune_page2pa(pg)) | get_pte_perm(perm);
	return 0;
}

struct page *dune_vm_lookup_page(ptent_t *root, void *va)
{
	ptent_t *pte;

	if (!root || dune_vm_lookup(root, va, CREATE_NONE, &pte) || !pte_present(*pte))
		return NULL;
	if (!dune_page_isfrompool(PTE_ADDR(*pte)))
		return NULL;
	return dune_pa2page(PTE_ADDR(*pte));
}

/*
 * Copies a table at `level` into a new one: leaves verbatim (4 KiB pool pages referenced once
 * more), lower tables copied in turn. Upstream looks every leaf up again from the new root,
 * which turns a 2 MiB leaf into a 4 KiB entry; copying table by table keeps the structure.
 */
static ptent_t *clone_table(ptent_t *dir, int level)
{
	ptent_t *t = alloc_table();
	int i;

	if (!t)
		return NULL;
	for (i = 0; i < NPTENTRIES; i++) {
		ptent_t e = dir[i];
		if (!e)
			continue;
		if (level == 0 || (pte_big(e) && level < NPTLVLS)) {
			if (level == 0 && dune_page_isfrompool(PTE_ADDR(e)))
				dune_page_get(dune_pa2page(PTE_ADDR(e)));
			t[i] = e;
			continue;
		}
		if (!pte_present(e))
			continue;
		ptent_t *sub = clone_table((ptent_t *) PTE_ADDR(e), level - 1);
		if (!sub) {
			dune_vm_free(t); /* frees what was copied so far */
			return NULL;
		}
		t[i] = PTE_ADDR(sub) | PTE_FLAGS(e);
	}
	return t;
}

/* dune_vm_clone: a new root mapping what root maps, leaves copied verbatim (no COW marking). */
ptent_t *dune_vm_clone(ptent_t *root)
{
	if (!root)
		return NULL;
	return clone_table(root, NPTLVLS);
}

static void free_table(ptent_t *dir, int level)
{
	int i;

	for (i = 0; i < NPTENTRIES; i++) {
		ptent_t e = dir[i];
		if (!e)
			continue;
		if (level == 0 || (pte_big(e) && level < NPTLVLS)) {
			put_leaf_page(e, level);
			continue;
		}
		if (pte_present(e))
			free_table((ptent_t *) PTE_ADDR(e), level - 1);
	}
	dune_page_put(dune_pa2page((physaddr_t) dir));
}

/* dune_vm_free: frees the tables of root and drops the references of its 4 KiB pool leaves. */
void dune_vm_free(ptent_t *root)
{
	if (!root || !dune_page_isfrompool((physaddr_t) root))
		return;
	free_table(root, NPTLVLS);
}

/*
 * The reference copy-on-write fault handler: a write to a PTE_COW page makes it writable when
 * this mapping holds the only reference to its pool page, else copies it into a new one.
 */
void dune_vm_default_pgflt_handler(uintptr_t addr, uint64_t fec)
{
	ptent_t *pte = NULL;

	if (dune_vm_lookup(pgroot, (void *) addr, CREATE_NONE, &pte)) {
		dune_printf("dune: page fault at 0x%lx (fec 0x%lx) with no page-table entry\n",
			    addr, (unsigned long) fec);
		dune_die();
	}
	if ((fec & FEC_W) && (*pte & PTE_COW)) {
		void *new_page;
		struct page *pg = dune_pa2page(PTE_ADDR(*pte));
		ptent_t perm = PTE_FLAGS(*pte);

		perm &= ~PTE_COW;
		perm |= PTE_W;

		if (dune_page_isfrompool(PTE_ADDR(*pte)) && pg->ref == 1) {
			*pte = PTE_ADDR(*pte) | perm;
			dune_flush_tlb_one(addr);
			return;
		}
		if (!(new_page = dune_alloc_page_zeroed())) {
			dune_printf("dune: out of pool pages copying 0x%lx\n", addr);
			dune_die();
		}
		memcpy(new_page, (void *) PGADDR(addr), PGSIZE);
		if (dune_page_isfrompool(PTE_ADDR(*pte)))
			dune_page_put(pg);
		*pte = PTE_ADDR(new_page) | perm;
		dune_flush_tlb_one(addr);
	}
}

/* ---- dunesim addition: the dirty-page harvest ---- */

struct harvest {
	void **dirty;
	long max, n;
};

static int harvest_helper(const void *arg, ptent_t *pte, void *va)
{
	struct harvest *h = (struct harvest *) arg;

	if (!(*pte & PTE_P) || !(*pte & PTE_D))
		return 0;
	if (h->n == h->max)
		return 1; /* full: the rest keep PTE_D for the next call */
	h->dirty[h->n++] = va;
	*pte &= ~PTE_D;
	return 0;
}

long dune_vm_harvest_dirty(ptent_t *root, void *start_va, size_t len, void **dirty, long max)
{
	struct harvest h = { dirty, max, 0 };

	if (!root || !dirty || max < 0)
		return -EINVAL;
	if (len == 0)
		return 0;
	__dune_vm_page_walk(root, start_va, (char *) start_va + len - 1, &harvest_helper, &h,
			    NPTLVLS, CREATE_NONE);
	if (h.n > 0) {
		if ((read_cr3() & ~(CR3_NOFLUSH | CR3_PCID_MASK)) == (uintptr_t) root)
			dune_flush_tlb();
		else
			__invpcid(INVPCID_TYPE_ALL_NON_GLOBAL, 0, 0);
	}
	return h.n;
}
