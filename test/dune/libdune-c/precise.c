/*
 * Precise mode (dune_init(0)): only the process's VMAs are mapped, from /proc/self/maps, with
 * their permissions and without the U bit. Memory mapped after dune_init is not in the page
 * table until a page-fault handler puts it there (here, as upstream's sandbox does for its
 * runtime: the identity of dune_va_to_pa). Ring 3 cannot even fetch the program's own code.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "libdune/dune.h"

static char ustack[8192] __attribute__((aligned(16)));
/* Written by handlers, which the compiler does not see being called: volatile. */
static volatile int g0_faults, g3_faults;
static volatile uint64_t g3_fec;

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	if (tf->cs & 3) {
		g3_faults++;
		g3_fec = fec;
		dune_ret_from_user(-1);
	}
	g0_faults++;
	if (fec & FEC_P)
		dune_die();
	dune_vm_map_phys(pgroot, (void *) PGADDR(addr), PGSIZE, (void *) dune_va_to_pa((void *) PGADDR(addr)),
			 PERM_R | PERM_W);
}

static void user_code(void)
{
	for (;;)
		;
}

int main(void)
{
	int ret = dune_init(0);
	if (ret) {
		printf("dune_init(0) failed: %d\n", ret);
		return 1;
	}
	/* Far from what the allocator has used: in the mmap window, 1 GiB up. */
	char *late = mmap((void *) (mmap_base + (1UL << 30)), 4 * PGSIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (dune_enter()) {
		printf("dune_enter failed\n");
		return 1;
	}
	dune_register_pgflt_handler(pgflt);
	ptent_t *pte;
	dune_vm_lookup(pgroot, (void *) user_code, CREATE_NONE, &pte);
	dune_printf("text: present %d, user %d, writable %d, executable %d\n", !!(*pte & PTE_P),
		    !!(*pte & PTE_U), !!(*pte & PTE_W), !(*pte & PTE_NX));
	dune_vm_lookup(pgroot, ustack, CREATE_NONE, &pte);
	dune_printf("data: present %d, user %d, writable %d, executable %d\n", !!(*pte & PTE_P),
		    !!(*pte & PTE_U), !!(*pte & PTE_W), !(*pte & PTE_NX));
	dune_printf("mmap after dune_init mapped: %s\n",
		    dune_vm_lookup(pgroot, late, CREATE_NONE, &pte) == 0 && (*pte & PTE_P) ? "yes" : "no");
	for (int i = 0; i < 4; i++)
		((volatile char *) late)[i * PGSIZE] = 1; /* each store may fault: keep them in order */
	dune_printf("touched it: %d ring-0 faults\n", g0_faults);

	struct dune_tf tf;
	memset(&tf, 0, sizeof(tf));
	tf.rip = (uintptr_t) user_code;
	tf.rsp = (uintptr_t) (ustack + sizeof(ustack) - 8);
	ret = dune_jump_to_user(&tf);
	dune_printf("ring 3 at the program's code: %d, %d fault, fec P=%d U=%d I=%d\n", ret, g3_faults,
		    !!(g3_fec & FEC_P), !!(g3_fec & FEC_U), !!(g3_fec & FEC_I));
	return 0;
}
