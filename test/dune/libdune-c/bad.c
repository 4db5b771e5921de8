/*
 * libDune called before dune_init, then dune_init itself. Runs natively too: on a machine
 * without the Dune module /dev/dune does not exist, and the output is the same there as on
 * dunesim without the module (exec --no-dune-module). Nothing here runs a privileged instruction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "libdune/dune.h"

static void cb(struct dune_tf *tf)
{
	(void) tf;
}

int main(void)
{
	ptent_t *pte;

	printf("dune_enter before dune_init: %d\n", dune_enter());
	printf("dune_page_alloc before dune_init: %s\n", dune_page_alloc() ? "a page" : "NULL");
	printf("dune_vm_map_pages(pgroot): %d\n", dune_vm_map_pages(pgroot, (void *) 0x1000, 4096, PERM_R));
	printf("dune_vm_lookup(pgroot): %d\n", dune_vm_lookup(pgroot, (void *) 0x1000, CREATE_NORMAL, &pte));
	printf("dune_vm_mprotect(pgroot): %d\n", dune_vm_mprotect(pgroot, (void *) 0x1000, 4096, PERM_R));
	printf("dune_vm_clone(pgroot): %s\n", dune_vm_clone(pgroot) ? "a root" : "NULL");
	printf("dune_register_intr_handler(256): %d\n", dune_register_intr_handler(256, cb));
	printf("dune_register_intr_handler(-1): %d\n", dune_register_intr_handler(-1, cb));
	/* dune_init(0) reads /proc/self/maps; writing to it fails (as root, the open succeeds). */
	int fd = open("/proc/self/maps", O_WRONLY);
	long w = fd < 0 ? -1 : write(fd, "x", 1);
	printf("write to /proc/self/maps: %ld, errno %d\n", w, errno);
	close(fd);
	fd = open("/proc/self/maps", O_RDONLY);
	char c;
	printf("open /proc/self/maps for reading: %s\n", fd >= 0 && read(fd, &c, 1) == 1 ? "readable" : "no");
	fflush(stdout);
	int ret = dune_init(1);
	if (ret) {
		printf("dune_init failed: %d\n", ret);
		return 1;
	}
	printf("dune_init: ok\n");
	return 0;
}
