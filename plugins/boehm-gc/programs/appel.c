/*
 * Appel & Li's virtual-memory primitives (ASPLOS 1991, §2) as a collector uses them, on Linux
 * and inside Dune: `appel linux` uses mprotect, SIGSEGV and mremap; `appel dune` enters Dune
 * (libDune for C, precise mode) and edits its own page table in ring 0. Each row prints
 *
 *     row NAME CYCLES-PER-OPERATION OPERATIONS
 *
 *   trap    a store to a write-protected page, to the handler's first instruction
 *   prot1   take write access from one page (mprotect; PTE_W cleared and INVLPG)
 *   protn   take write access from 100 pages in one call, per page (mprotect of the range;
 *           dune_vm_mprotect: one walk, one flush)
 *   unprot  give write access back to one page (mprotect; PTE_W set and INVLPG)
 *   dirty   10 of 100 pages written, then the list of dirty pages read and the tracking reset:
 *           on Linux simulated as Appel says, PROTN + TRAP + UNPROT; in Dune the stores set
 *           PTE_D and dune_vm_harvest_dirty reads and clears it (one flush)
 *   map2    a page mapped at a second address, read-only, read through it, unmapped (mremap of
 *           a shared mapping, mprotect, munmap; dune_vm_map_phys of the same frame, INVLPG)
 *
 *   appel linux|dune [-n N]   N operations per row (default 1000)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "libdune/dune.h"

#define PAGES 100
#define PG 4096UL
#define MAP2_VA 0x420000000000UL /* a guest-virtual address no host mapping uses */

static int dune;
static volatile char *mem;
static volatile unsigned long fault_tsc;
static volatile long faults;

static inline unsigned long tsc0(void)
{
	unsigned int a = 0, b, c = 0, d, lo, hi;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((unsigned long) hi << 32) | lo;
}

static inline unsigned long tsc1(void)
{
	unsigned int lo, hi, aux;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux) : : "memory");
	return ((unsigned long) hi << 32) | lo;
}

static void row(const char *name, unsigned long cycles, long ops)
{
	printf("row %s %.1f %ld\n", name, (double) cycles / (double) ops, ops);
	fflush(stdout);
}

static void die(const char *what)
{
	printf("appel: %s failed\n", what);
	fflush(stdout);
	exit(1);
}

/* ---- the primitives, both ways ---- */

static void set_w(void *page, int writable)
{
	if (!dune) {
		if (mprotect(page, PG, writable ? PROT_READ | PROT_WRITE : PROT_READ) != 0)
			die("mprotect");
		return;
	}
	ptent_t *pte;
	if (dune_vm_lookup(pgroot, page, CREATE_NONE, &pte) != 0)
		die("dune_vm_lookup");
	if (writable)
		*pte |= PTE_W;
	else
		*pte &= ~PTE_W;
	dune_flush_tlb_one((unsigned long) page);
}

static void protn(void *start, size_t pages)
{
	if (!dune) {
		if (mprotect(start, pages * PG, PROT_READ) != 0)
			die("mprotect");
	} else if (dune_vm_mprotect(pgroot, start, pages * PG, PERM_R) != 0) {
		die("dune_vm_mprotect");
	}
}

static void unprotn(void *start, size_t pages)
{
	if (!dune) {
		if (mprotect(start, pages * PG, PROT_READ | PROT_WRITE) != 0)
			die("mprotect");
	} else if (dune_vm_mprotect(pgroot, start, pages * PG, PERM_R | PERM_W) != 0) {
		die("dune_vm_mprotect");
	}
}

/* TRAP: the handler notes when it ran and gives the page back (UNPROT). */
static void on_fault(uintptr_t addr)
{
	fault_tsc = tsc1();
	faults++;
	uintptr_t off = addr - (uintptr_t) mem;
	if (off >= PAGES * PG)
		die("a fault outside the pages");
	set_w((void *) (addr & ~(PG - 1)), 1);
}

static void segv(int sig, siginfo_t *si, void *ctx)
{
	(void) sig;
	(void) ctx;
	on_fault((uintptr_t) si->si_addr);
}

static void pgflt(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	(void) tf;
	if (!(fec & FEC_P)) {
		/* precise mode: memory mapped after dune_init (stack growth) */
		void *va = (void *) PGADDR(addr);
		if (dune_vm_map_phys(pgroot, va, PGSIZE, (void *) dune_va_to_pa(va), PERM_R | PERM_W) == 0)
			return;
		die("mapping a page on demand");
	}
	on_fault(addr);
}

/* ---- rows ---- */

static void bench_trap(long n)
{
	unsigned long sum = 0;
	for (long i = 0; i < n; i++) {
		volatile char *p = mem + (i % PAGES) * PG;
		set_w((void *) p, 0);
		unsigned long t0 = tsc0();
		*p = 1;
		sum += fault_tsc - t0;
	}
	row("trap", sum, n);
}

static void bench_prot1_unprot(long n)
{
	unsigned long prot = 0, unprot = 0;
	for (long done = 0; done < n; done += PAGES) {
		long k = n - done < PAGES ? n - done : PAGES;
		unsigned long t0 = tsc0();
		for (long i = 0; i < k; i++)
			set_w((void *) (mem + i * PG), 0);
		unsigned long t1 = tsc1();
		for (long i = 0; i < k; i++)
			set_w((void *) (mem + i * PG), 1);
		unsigned long t2 = tsc1();
		prot += t1 - t0;
		unprot += t2 - t1;
	}
	row("prot1", prot, n);
	row("unprot", unprot, n);
}

static void bench_protn(long n)
{
	unsigned long sum = 0;
	long calls = (n + PAGES - 1) / PAGES;
	for (long c = 0; c < calls; c++) {
		unsigned long t0 = tsc0();
		protn((void *) mem, PAGES);
		sum += tsc1() - t0;
		unprotn((void *) mem, PAGES);
	}
	row("protn", sum, calls * PAGES);
}

static void bench_dirty(long n)
{
	void *list[PAGES];
	long calls = n / 10 > 0 ? n / 10 : 1;
	/* The first call arms the tracking. */
	if (!dune)
		protn((void *) mem, PAGES);
	else
		dune_vm_harvest_dirty(pgroot, (void *) mem, PAGES * PG, list, PAGES);
	unsigned long sum = 0;
	long seen = 0;
	faults = 0;
	for (long c = 0; c < calls; c++) {
		unsigned long t0 = tsc0();
		for (long i = 0; i < 10; i++)
			mem[((c * 7 + i * 10) % PAGES) * PG] = 2;
		if (!dune) {
			/* DIRTY as PROTN + TRAP + UNPROT: the faulting pages were the dirty ones. */
			seen += faults;
			faults = 0;
			protn((void *) mem, PAGES);
		} else {
			seen += dune_vm_harvest_dirty(pgroot, (void *) mem, PAGES * PG, list, PAGES);
		}
		sum += tsc1() - t0;
	}
	if (!dune)
		unprotn((void *) mem, PAGES);
	if (seen != calls * 10)
		die("the dirty-page count");
	row("dirty", sum, calls);
}

static void bench_map2(long n)
{
	unsigned long sum = 0;
	long bad = 0;
	if (!dune) {
		/* A shared mapping: mremap with old size 0 maps the same pages a second time. */
		char *shared = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (shared == MAP_FAILED)
			die("mmap(MAP_SHARED)");
		for (long i = 0; i < n; i++) {
			shared[0] = (char) i;
			unsigned long t0 = tsc0();
			char *alias = mremap(shared, 0, PG, MREMAP_MAYMOVE);
			if (alias == MAP_FAILED) {
				printf("appel: map2 on Linux needs mremap(old_size 0) of a shared mapping, which failed\n");
				return;
			}
			mprotect(alias, PG, PROT_READ);
			bad += ((volatile char *) alias)[0] != (char) i;
			munmap(alias, PG);
			sum += tsc1() - t0;
		}
	} else {
		void *pa = (void *) dune_va_to_pa((void *) mem);
		for (long i = 0; i < n; i++) {
			mem[0] = (char) i;
			unsigned long t0 = tsc0();
			if (dune_vm_map_phys(pgroot, (void *) MAP2_VA, PG, pa, PERM_R) != 0)
				die("dune_vm_map_phys");
			bad += ((volatile char *) MAP2_VA)[0] != (char) i;
			ptent_t *pte;
			dune_vm_lookup(pgroot, (void *) MAP2_VA, CREATE_NONE, &pte);
			*pte = 0;
			dune_flush_tlb_one(MAP2_VA);
			sum += tsc1() - t0;
		}
	}
	if (bad)
		die("reading through the second mapping");
	row("map2", sum, n);
}

int main(int argc, char **argv)
{
	long n = 1000;
	if (argc == 4 && strcmp(argv[2], "-n") == 0)
		n = strtol(argv[3], NULL, 10);
	if ((argc != 2 && argc != 4) || n < 1 || n > 1000000 ||
	    (strcmp(argv[1], "linux") != 0 && strcmp(argv[1], "dune") != 0)) {
		fprintf(stderr, "usage: %s linux|dune [-n N]   (N from 1 to 1000000)\n", argv[0]);
		return 2;
	}
	dune = strcmp(argv[1], "dune") == 0;
	mem = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	for (long i = 0; i < PAGES; i++)
		mem[i * PG] = 1; /* every page present and in the TLB's reach, as Appel's programs did */
	if (dune) {
		if (dune_init(0) != 0 || dune_enter() != 0)
			die("entering Dune");
		dune_register_pgflt_handler(pgflt);
	} else {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = segv;
		sa.sa_flags = SA_SIGINFO;
		if (sigaction(SIGSEGV, &sa, NULL) != 0)
			die("sigaction");
	}
	bench_trap(n);
	bench_prot1_unprot(n);
	bench_protn(n);
	bench_dirty(n);
	bench_map2(n);
	return 0;
}
