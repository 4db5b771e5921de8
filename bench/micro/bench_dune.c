/*
 * bench_dune: the Dune paper's Tables 2 and 3 microbenchmarks (Belay et al., OSDI 2012, §6.1 and
 * §6.2) inside Dune. The program starts as an ordinary Linux process and enters Dune through
 * libDune (dune_init_and_enter: /dev/dune, DUNE_ENTER); every row then runs in VMX non-root ring
 * 0, except the untrusted code of the ptrace rows, which runs in ring 3. bench_linux.c measures
 * the same rows as a Linux process.
 *
 *   getpid        a null system call as a hypercall: VMCALL with RAX = 39 (Table 2)
 *   page-fault    first write to a page of a fresh anonymous mapping: the guest page table maps
 *                 the mmap window already, so the EPT violation exit fills the host page (Table 2)
 *   page-walk     what a TLB miss adds to a read, as in bench_linux, now a 2-D walk through the
 *                 guest page table and the EPT (Table 2)
 *   ptrace        getpid from ring 3 with SYSCALL, trapped by libDune's handler in ring 0 and
 *                 forwarded to the kernel with dune_passthrough_syscall (a VMCALL) (Table 3)
 *   syscall-trap  the same trap, answered in ring 0 without forwarding (§6.2)
 *   vm-lookup     libDune's software page walk, dune_vm_lookup of a mapped page (no paper figure:
 *                 the part of the Appel handlers below that walks the page table)
 *   trap          a write to a read-only page to the first instruction of the page-fault handler
 *                 registered with dune_register_pgflt_handler (Table 3; timed inside appel1's)
 *   appel1        TRAP+PROT1+UNPROT per 100-page pass: the handler edits the two PTEs itself,
 *                 INVLPG (dune_flush_tlb_one) only if the newly protected page's A bit was set
 *   appel2        PROTN+TRAP+UNPROT: dune_vm_mprotect of 100 pages, then each page faults and the
 *                 handler makes its PTE writable
 *
 * Prints `row NAME CYCLES ITERATIONS` per row (bench.h).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "dune.h"
#include "bench.h"

#define ROWS "getpid page-fault page-walk ptrace syscall-trap vm-lookup trap appel1 appel2"

/* Where the Appel passes' pages are mapped in the guest page table only (a guest-virtual address
 * no host mapping uses; the frames come from libDune's page pool). */
#define MAP_ADDR 0x400000000000UL

#define NR_getpid 39
#define NR_exit_group 231

static unsigned long overhead;

static void row(const char *name, double cycles, long ops)
{
	printf("row %s %.1f %ld\n", name, cycles, ops);
	fflush(stdout);
}

static void die(const char *what)
{
	printf("bench_dune: %s failed\n", what);
	fflush(stdout);
	exit(1);
}

static void bench_getpid(long n)
{
	serialize();
	unsigned long t0 = rdtsc();
	for (long i = 0; i < n; i++) {
		long r;
		__asm__ volatile("vmcall" : "=a"(r) : "a"((long)NR_getpid) : "memory");
	}
	unsigned long t1 = rdtscp();
	row("getpid", (double)(t1 - t0 - overhead) / n, n);
}

static void bench_page_fault(long n)
{
	volatile char *fm = dune_mmap(NULL, n * PGSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fm == MAP_FAILED) die("dune_mmap");
	serialize();
	unsigned long t0 = rdtsc();
	for (long i = 0; i < n; i++) fm[i * PGSIZE] = (char)i;
	unsigned long t1 = rdtscp();
	row("page-fault", (double)(t1 - t0 - overhead) / n, n);
}

/* As in bench_linux.c: `n` random reads among the first `mask + 1` pages; cycles per read. */
static __attribute__((noinline)) double walk(volatile char *m, unsigned long mask, long n)
{
	unsigned int x = 2463534242u;
	unsigned long sum = 0;
	serialize();
	unsigned long t0 = rdtsc();
	for (long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		sum += m[(x & mask) * PGSIZE];
	}
	unsigned long t1 = rdtscp();
	__asm__ volatile("" : : "r"(sum));
	return (double)(t1 - t0 - overhead) / n;
}

static void bench_page_walk(long pages, long n)
{
	unsigned long p = WALK_HOT_PAGES;
	while (p * 2 <= (unsigned long)pages) p *= 2;
	volatile char *m = dune_mmap(NULL, p * PGSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) die("dune_mmap");
	for (unsigned long i = 0; i < p; i++) m[i * PGSIZE] = 1;
	walk(m, WALK_HOT_PAGES - 1, n);
	double hot = walk(m, WALK_HOT_PAGES - 1, n);
	double cold = walk(m, p - 1, n);
	row("page-walk", cold - hot, n);
}

/* ---- ptrace, syscall-trap: untrusted code in ring 3, its system calls trapped in ring 0 ---- */

static long user_n;
static volatile unsigned long user_cycles;
static int forward;

/* Ring 3: no libc (its TLS and system calls belong to ring 0), only SYSCALL and the TSC. */
static __attribute__((noinline)) void user_main(void)
{
	serialize();
	unsigned long t0 = rdtsc();
	for (long i = 0; i < user_n; i++) {
		long r;
		__asm__ volatile("syscall" : "=a"(r) : "a"((long)NR_getpid) : "rcx", "r11", "memory");
	}
	unsigned long t1 = rdtscp();
	user_cycles = t1 - t0 - overhead;
	__asm__ volatile("syscall" : : "a"((long)NR_exit_group), "D"(0L) : "rcx", "r11", "memory");
	for (;;) ;
}

/*
 * The policy of a sandbox at its simplest: getpid goes to the kernel (or is answered here),
 * exit_group ends ring 3, anything else is refused.
 */
static void syscall_handler(struct dune_tf *tf)
{
	if (tf->rax == NR_getpid) {
		if (forward) dune_passthrough_syscall(tf);
		else tf->rax = 0;
	} else if (tf->rax == NR_exit_group) {
		dune_ret_from_user(0);
	} else {
		tf->rax = -ENOSYS;
	}
}

static void bench_ring3_getpid(const char *name, int fwd, long n)
{
	static char *stack;
	if (stack == NULL) {
		stack = dune_mmap(NULL, 16 * PGSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (stack == MAP_FAILED) die("dune_mmap");
	}
	forward = fwd;
	user_n = n;
	dune_register_syscall_handler(syscall_handler);
	struct dune_tf tf;
	memset(&tf, 0, sizeof tf);
	tf.rip = (uintptr_t)user_main;
	tf.rsp = (uintptr_t)(stack + 16 * PGSIZE - 8); /* as after a call: RSP + 8 16-byte aligned */
	tf.rflags = 0x2;
	if (dune_jump_to_user(&tf) != 0) die("dune_jump_to_user");
	row(name, (double)user_cycles / n, n);
}

/* ---- vm-lookup, trap, appel1, appel2: the pages at MAP_ADDR ---- */

static volatile char *mem = (volatile char *)MAP_ADDR;

/* Lookups cycle over the first 64 of the mapped pages (their PTEs share one page-table page). */
static void bench_vm_lookup(long n)
{
	ptent_t *pte;
	serialize();
	unsigned long t0 = rdtsc();
	for (long i = 0; i < n; i++)
		if (dune_vm_lookup(pgroot, (void *)(MAP_ADDR + (i & 63) * PGSIZE), 0, &pte) != 0) die("dune_vm_lookup");
	unsigned long t1 = rdtscp();
	row("vm-lookup", (double)(t1 - t0 - overhead) / n, n);
}
static volatile unsigned long trap_tsc;
static volatile unsigned long trap_sum;

static void prime_memory(void)
{
	for (long i = 0; i < 2 * NRPGS; i++) mem[i * PGSIZE] = (char)i;
}

static void appel1_handler(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	(void)fec;
	(void)tf;
	trap_sum += rdtscp() - trap_tsc;
	ptent_t *pte;
	unsigned long page = addr & ~(PGSIZE - 1);
	if (dune_vm_lookup(pgroot, (void *)page, 0, &pte) != 0) die("dune_vm_lookup");
	*pte |= PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
	/* Protect the page NRPGS on: only a TLB entry it may have needs invalidating. */
	unsigned long next = page + NRPGS * PGSIZE;
	if (dune_vm_lookup(pgroot, (void *)next, 0, &pte) != 0) die("dune_vm_lookup");
	int accessed = (*pte & PTE_A) != 0;
	*pte = PTE_ADDR(*pte) | PTE_P;
	if (accessed) dune_flush_tlb_one(next);
}

static void appel2_handler(uintptr_t addr, uint64_t fec, struct dune_tf *tf)
{
	(void)fec;
	(void)tf;
	ptent_t *pte;
	if (dune_vm_lookup(pgroot, (void *)(addr & ~(PGSIZE - 1)), 0, &pte) != 0) die("dune_vm_lookup");
	*pte |= PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
}

static void bench_appel1(long passes, int want_trap, int want_appel1)
{
	dune_register_pgflt_handler(appel1_handler);
	unsigned long total = 0, traps = 0;
	for (long p = 0; p <= passes; p++) {
		if (dune_vm_mprotect(pgroot, (void *)MAP_ADDR, NRPGS * PGSIZE, PERM_R) != 0) die("dune_vm_mprotect");
		trap_sum = 0;
		serialize();
		unsigned long t0 = rdtsc();
		for (long i = 0; i < NRPGS; i++) {
			trap_tsc = rdtsc();
			mem[i * PGSIZE] = (char)i;
		}
		unsigned long t1 = rdtscp();
		if (p == 0) continue;
		total += t1 - t0 - overhead;
		traps += trap_sum - overhead * NRPGS;
	}
	if (want_trap) row("trap", (double)traps / (passes * NRPGS), passes * NRPGS);
	if (want_appel1) row("appel1", (double)total / passes, passes);
}

static void bench_appel2(long passes)
{
	dune_register_pgflt_handler(appel2_handler);
	unsigned long total = 0;
	for (long p = 0; p <= passes; p++) {
		if (dune_vm_mprotect(pgroot, (void *)MAP_ADDR, 2 * NRPGS * PGSIZE, PERM_R | PERM_W) != 0) die("dune_vm_mprotect");
		prime_memory();
		serialize();
		unsigned long t0 = rdtsc();
		dune_vm_mprotect(pgroot, (void *)MAP_ADDR, NRPGS * PGSIZE, PERM_R);
		for (long i = 0; i < NRPGS; i++) mem[i * PGSIZE] = (char)i;
		unsigned long t1 = rdtscp();
		if (p > 0) total += t1 - t0 - overhead;
	}
	row("appel2", (double)total / passes, passes);
}

int main(int argc, char **argv)
{
	struct bench_args a = bench_parse(argc, argv, ROWS);
	overhead = tsc_overhead();
	printf("bench_dune: TSC overhead %lu cycles\n", overhead);
	fflush(stdout);
	if (dune_init_and_enter() != 0) {
		printf("bench_dune: cannot enter Dune\n");
		return 1;
	}
	if (bench_wants(&a, "getpid")) bench_getpid(a.n);
	if (bench_wants(&a, "page-fault")) bench_page_fault(a.n);
	if (bench_wants(&a, "page-walk")) bench_page_walk(a.pages, a.accesses);
	if (bench_wants(&a, "ptrace")) bench_ring3_getpid("ptrace", 1, a.n);
	if (bench_wants(&a, "syscall-trap")) bench_ring3_getpid("syscall-trap", 0, a.n);
	int lookup = bench_wants(&a, "vm-lookup");
	int trap = bench_wants(&a, "trap"), appel1 = bench_wants(&a, "appel1"), appel2 = bench_wants(&a, "appel2");
	if (lookup || trap || appel1 || appel2) {
		if (dune_vm_map_pages(pgroot, (void *)MAP_ADDR, 2 * NRPGS * PGSIZE, PERM_R | PERM_W) != 0) die("dune_vm_map_pages");
		prime_memory();
		if (lookup) bench_vm_lookup(a.n);
		if (trap || appel1) bench_appel1(a.passes, trap, appel1);
		if (appel2) bench_appel2(a.passes);
	}
	return 0;
}
