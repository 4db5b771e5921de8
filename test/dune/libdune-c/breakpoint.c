/*
 * INT3 inside Dune. The module's exception bitmap holds #DB and #BP (as upstream's vmx.c sets
 * it), so INT3 (opcode CC), a #BP software exception, leaves the guest with a VM exit and the
 * DUNE_ENTER ioctl returns DUNE_RET_INTERRUPT with the vector (SDM Vol. 3C §25.2). INT $3
 * (opcode CD 03) is a software interrupt, which the bitmap does not govern: it is delivered
 * through libDune's IDT to the registered handler.
 */
#include <stdio.h>

#include "libdune/dune.h"

static volatile int bp_handled;

static void bp_handler(struct dune_tf *tf)
{
	(void) tf;
	bp_handled++;
}

int main(void)
{
	if (dune_init_and_enter()) {
		printf("dune_init_and_enter failed\n");
		return 1;
	}
	dune_register_intr_handler(T_BRKPT, bp_handler);
	asm volatile(".byte 0xcd, 0x03" ::: "memory"); /* int $3 */
	printf("int $3 reached the guest handler: %s\n", bp_handled == 1 ? "yes" : "no");
	fflush(stdout);
	asm volatile(".byte 0xcc" ::: "memory"); /* int3: exits to the module */
	printf("int3 did not leave Dune\n");
	return 0;
}
