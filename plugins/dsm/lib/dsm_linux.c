/*
 * The Linux fault path: the shared region's protection is mprotect's, and an access the
 * protection forbids is a SIGSEGV whose handler runs the protocol. The page-fault error code the
 * kernel saves in the signal frame (REG_ERR, bit 1) says whether the access was a write.
 *
 * The handler uses no floating-point or vector registers (the library is built with
 * -mgeneral-regs-only): it may interrupt code that holds values there.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "dsm_internal.h"

static const int prot_of[3] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE };

static void segv(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t) si->si_addr;
	ucontext_t *uc = ctx;
	if (a < DSM_REGION_BASE || a >= DSM_REGION_BASE + dsm_cfg.pages * DSM_PAGE_SIZE) {
		/* Not ours: an ordinary segmentation fault. The access runs again and kills. */
		signal(sig, SIG_DFL);
		return;
	}
	int write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
	dsm_fault((uint32_t) ((a - DSM_REGION_BASE) / DSM_PAGE_SIZE), write);
}

static int path_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) != 0) {
		fprintf(stderr, "dsm: sigaction(SIGSEGV) failed\n");
		return -1;
	}
	return 0;
}

static void set_access(uint32_t page, int access)
{
	if (mprotect(dsm_page_addr(page), DSM_PAGE_SIZE, prot_of[access]) != 0)
		dsm_fail("mprotect of page %u failed", page);
}

static void set_all(int access)
{
	if (mprotect((void *) DSM_REGION_BASE, DSM_MAX_PAGES * DSM_PAGE_SIZE, prot_of[access]) != 0)
		dsm_fail("mprotect of the shared region failed");
}

/* recv writes the page through the process's own mapping, which must allow it. */
static void fill_begin(uint32_t page)
{
	set_access(page, DSM_WRITE);
}

const struct dsm_fault_path dsm_linux_path = { "linux", path_init, set_access, set_all, fill_begin };
