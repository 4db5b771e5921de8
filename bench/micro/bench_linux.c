/*
 * bench_linux: the Dune paper's Tables 2 and 3 microbenchmarks (Belay et al., OSDI 2012, §6.1 and
 * §6.2) as an ordinary Linux process. bench_dune.c measures the same rows inside Dune.
 *
 *   getpid         a null system call: SYSCALL with RAX = 39, to SYSRET (Table 2)
 *   page-fault     first write to a page of a fresh anonymous mapping (Table 2)
 *   page-walk      what a TLB miss adds to a read: random reads over 2^16 pages, less the same
 *                  reads over 16 pages that stay in the TLB (Table 2)
 *   ptrace         getpid of a traced child under PTRACE_SYSCALL: stopped at entry and exit, the
 *                  tracer resumes it each time (Table 3)
 *   ptrace-sysemu  the same under PTRACE_SYSEMU: stopped at entry, not forwarded (§6.2)
 *   trap           a write to a read-only page, to the first instruction of the SIGSEGV handler
 *                  (Table 3; timed inside appel1's passes)
 *   appel1         Appel & Li's TRAP+PROT1+UNPROT: per pass of 100 pages, each faulting; the
 *                  handler unprotects its page and protects the one 100 pages on (Table 3)
 *   appel2         PROTN+TRAP+UNPROT: one mprotect of 100 pages, then each page faults and the
 *                  handler unprotects it (Table 3)
 *
 * Prints `row NAME CYCLES ITERATIONS` per row (bench.h). Runs natively too.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define ROWS "getpid page-fault page-walk ptrace ptrace-sysemu trap appel1 appel2"

/* musl's <sys/ptrace.h> may lack it (x86's PTRACE_SYSEMU, Linux 2.6.14). */
#ifndef PTRACE_SYSEMU
#define PTRACE_SYSEMU 31
#endif

static unsigned long overhead;

static void row(const char *name, double cycles, long ops)
{
	printf("row %s %.1f %ld\n", name, cycles, ops);
	fflush(stdout);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* getpid without libc: the instructions the row times are SYSCALL and the loop's own. */
static inline long raw_getpid(void)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(39L) : "rcx", "r11", "memory");
	return r;
}

static void bench_getpid(long n)
{
	serialize();
	unsigned long t0 = rdtsc();
	for (long i = 0; i < n; i++) raw_getpid();
	unsigned long t1 = rdtscp();
	row("getpid", (double)(t1 - t0 - overhead) / n, n);
}

static void bench_page_fault(long n)
{
	volatile char *fm = mmap(NULL, n * PGSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fm == MAP_FAILED) die("mmap");
	serialize();
	unsigned long t0 = rdtsc();
	for (long i = 0; i < n; i++) fm[i * PGSIZE] = (char)i;
	unsigned long t1 = rdtscp();
	row("page-fault", (double)(t1 - t0 - overhead) / n, n);
	munmap((void *)fm, n * PGSIZE);
}

/*
 * `n` reads of random pages among the first `mask + 1` of `m` (xorshift32, the same sequence each
 * time); cycles per read. Not inlined, so that both calls run the same instructions.
 */
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
	/* Whole powers of two, so that `x & mask` picks pages uniformly. */
	unsigned long p = WALK_HOT_PAGES;
	while (p * 2 <= (unsigned long)pages) p *= 2;
	volatile char *m = mmap(NULL, p * PGSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) die("mmap");
	for (unsigned long i = 0; i < p; i++) m[i * PGSIZE] = 1; /* resident, no fault while timed */
	walk(m, WALK_HOT_PAGES - 1, n);                           /* warm the hot pages' TLB entries */
	double hot = walk(m, WALK_HOT_PAGES - 1, n);
	double cold = walk(m, p - 1, n);
	row("page-walk", cold - hot, n);
	munmap((void *)m, p * PGSIZE);
}

/*
 * A child that traces itself stops, then makes `n` getpid calls and stores how long they took in
 * `shared`; the parent resumes it at every stop with `request` (PTRACE_SYSCALL forwards each call,
 * PTRACE_SYSEMU intercepts it without running it) and prints the row once the child has exited.
 */
static void bench_ptrace(const char *name, int request, long n)
{
	volatile unsigned long *shared = mmap(NULL, PGSIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) die("mmap");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(1);
		kill(raw_getpid(), SIGSTOP);
		serialize();
		unsigned long t0 = rdtsc();
		for (long i = 0; i < n; i++) raw_getpid();
		unsigned long t1 = rdtscp();
		shared[0] = t1 - t0 - overhead;
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) die("waitpid (the child's SIGSTOP)");
	long stops = 0;
	for (;;) {
		/* Under SYSEMU the last getpid's stop lets the child go on untraced, to its exit. */
		int req = request == PTRACE_SYSEMU && stops == n ? PTRACE_CONT : request;
		if (ptrace(req, pid, 0, 0) != 0) die("ptrace");
		if (waitpid(pid, &st, 0) != pid) die("waitpid");
		if (WIFEXITED(st) || WIFSIGNALED(st)) break;
		stops++;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s: the traced child failed\n", name);
		exit(1);
	}
	row(name, (double)shared[0] / n, n);
	munmap((void *)shared, PGSIZE);
}

/* ---- trap, appel1, appel2 (Appel & Li, "Virtual Memory Primitives for User Programs") ---- */

static volatile char *mem;           /* 2 * NRPGS pages */
static volatile unsigned long trap_tsc;
static volatile unsigned long trap_sum;

static void prime_memory(void)
{
	for (long i = 0; i < 2 * NRPGS; i++) mem[i * PGSIZE] = (char)i;
}

static void appel1_handler(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	trap_sum += rdtscp() - trap_tsc;
	char *page = (char *)((unsigned long)si->si_addr & ~(PGSIZE - 1));
	mprotect(page, PGSIZE, PROT_READ | PROT_WRITE);
	mprotect(page + NRPGS * PGSIZE, PGSIZE, PROT_READ);
}

static void appel2_handler(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	char *page = (char *)((unsigned long)si->si_addr & ~(PGSIZE - 1));
	mprotect(page, PGSIZE, PROT_READ | PROT_WRITE);
}

static void on_segv(void (*handler)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) != 0) die("sigaction");
}

/*
 * One pass of appel1 per iteration, after one untimed pass (its first protections split the
 * mapping's VMA). The trap row is the time from just before each faulting write to the handler's
 * first instruction, over the same passes.
 */
static void bench_appel1(long passes, int want_trap, int want_appel1)
{
	on_segv(appel1_handler);
	unsigned long total = 0, traps = 0;
	for (long p = 0; p <= passes; p++) {
		if (mprotect((void *)mem, NRPGS * PGSIZE, PROT_READ) != 0) die("mprotect");
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
	on_segv(appel2_handler);
	unsigned long total = 0;
	for (long p = 0; p <= passes; p++) {
		if (mprotect((void *)mem, 2 * NRPGS * PGSIZE, PROT_READ | PROT_WRITE) != 0) die("mprotect");
		prime_memory();
		serialize();
		unsigned long t0 = rdtsc();
		mprotect((void *)mem, NRPGS * PGSIZE, PROT_READ);
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
	printf("bench_linux: TSC overhead %lu cycles\n", overhead);
	if (bench_wants(&a, "getpid")) bench_getpid(a.n);
	if (bench_wants(&a, "page-fault")) bench_page_fault(a.n);
	if (bench_wants(&a, "page-walk")) bench_page_walk(a.pages, a.accesses);
	if (bench_wants(&a, "ptrace")) bench_ptrace("ptrace", PTRACE_SYSCALL, a.n);
	if (bench_wants(&a, "ptrace-sysemu")) bench_ptrace("ptrace-sysemu", PTRACE_SYSEMU, a.n);
	int trap = bench_wants(&a, "trap"), appel1 = bench_wants(&a, "appel1"), appel2 = bench_wants(&a, "appel2");
	if (trap || appel1 || appel2) {
		mem = mmap(NULL, 2 * NRPGS * PGSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) die("mmap");
		prime_memory();
		if (trap || appel1) bench_appel1(a.passes, trap, appel1);
		if (appel2) bench_appel2(a.passes);
	}
	return 0;
}
