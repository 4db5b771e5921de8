/*
 * The Dune fault path: the process enters Dune (libDune, precise mode) and runs in guest ring 0,
 * where it owns its page table. The shared region's protection is the P and W bits of its PTEs,
 * written directly, with an INVLPG of the page; a forbidden access is a #PF that libDune's IDT
 * hands to the page-fault handler below, with CR2 and the error code, without leaving the guest.
 *
 * Data from the network: through sockets, recv is a system call passed to the host kernel
 * (VMCALL), which writes the page through the host's mapping of the same memory; the NIC
 * transport (dsm_nic.c) copies it in from ring 0 and makes the page writable first.
 */
#include <stdio.h>

#include "libdune/dune.h"
#include "dsm_internal.h"

static ptent_t *ptes[DSM_MAX_PAGES];
static const ptent_t bits_of[3] = { 0, PTE_P, PTE_P | PTE_W };

static int in_window(uintptr_t va)
{
	uintptr_t w = stack_base - mmap_base;
	return (va >= mmap_base && va - mmap_base < w) || (va >= stack_base && va - stack_base < w);
}

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	if (addr >= DSM_REGION_BASE && addr < DSM_REGION_BASE + dsm_cfg.pages * DSM_PAGE_SIZE) {
		dsm_fault((uint32_t) ((addr - DSM_REGION_BASE) / DSM_PAGE_SIZE), (fec & FEC_W) != 0);
		return;
	}
	/* Precise mode maps what existed at dune_init; the stack may grow, libc may mmap later. */
	if (!(fec & FEC_P) && in_window(addr)) {
		void *va = (void *) PGADDR(addr);
		if (dune_vm_map_phys(pgroot, va, PGSIZE, (void *) dune_va_to_pa(va), PERM_R | PERM_W) == 0)
			return;
	}
	dune_printf("dsm: node %d: segmentation fault at 0x%lx (error code 0x%lx) at rip 0x%lx\n",
		    dsm_cfg.node, (unsigned long) addr, (unsigned long) fec, (unsigned long) tf->rip);
	dune_die();
}

static int path_init(void)
{
	/* The region is mapped before dune_init, so precise mode finds it in /proc/self/maps and
	 * gives every page a PTE, whose P and W bits the protocol then sets. */
	int ret = dune_init(0);
	if (ret == 0)
		ret = dune_enter();
	if (ret != 0) {
		fprintf(stderr, "dsm: DSM_MODE=dune needs the Dune module: entering Dune failed (%d)\n", ret);
		return -1;
	}
	for (int i = 0; i < DSM_MAX_PAGES; i++) {
		if (dune_vm_lookup(pgroot, dsm_page_addr((uint32_t) i), CREATE_NONE, &ptes[i]) != 0 || !(*ptes[i] & PTE_P)) {
			fprintf(stderr, "dsm: page %d of the shared region is not in Dune's page table\n", i);
			return -1;
		}
	}
	dune_register_pgflt_handler(pgflt);
	return 0;
}

static void set_access(uint32_t page, int access)
{
	ptent_t *pte = ptes[page];
	*pte = (*pte & ~(PTE_P | PTE_W)) | bits_of[access];
	dune_flush_tlb_one((unsigned long) dsm_page_addr(page));
}

static void set_all(int access)
{
	for (int i = 0; i < DSM_MAX_PAGES; i++)
		*ptes[i] = (*ptes[i] & ~(PTE_P | PTE_W)) | bits_of[access];
	dune_flush_tlb();
}

/* Through sockets the host kernel writes the page through its own mapping; the NIC transport
 * copies it in from ring 0, through this page table, which must allow the write. */
static void fill_begin(uint32_t page)
{
	if (dsm_cfg.nic)
		set_access(page, DSM_WRITE);
}

const struct dsm_fault_path dsm_dune_path = { "dune", path_init, set_access, set_all, fill_begin };
