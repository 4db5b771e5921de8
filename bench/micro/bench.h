/*
 * bench.h: what bench_linux.c and bench_dune.c share. The time source is the TSC, read the way
 * the Dune paper's benchmarks read it: CPUID to drain the pipeline before the first read, RDTSCP
 * (which waits for the instructions before it) for the last, and the cost of one such pair,
 * measured once, taken off every interval. Each measured row is printed as one line
 *
 *     row NAME CYCLES-PER-OPERATION OPERATIONS
 *
 * which `dunesim bench dune-micro` parses; anything else a program prints is for people.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PGSIZE
#define PGSIZE 4096UL
#endif
/* Appel & Li's passes touch NRPGS protected pages (Dune §6.2: 100). */
#define NRPGS 100
/* The page-walk row's working set (Dune §6.1: a random walk over 2^16 pages). */
#define WALK_PAGES (1UL << 16)
/* The pages of the page-walk row's baseline: few enough that every one stays in the TLB. */
#define WALK_HOT_PAGES 16UL

static inline void serialize(void)
{
	unsigned int a = 0, b, c = 0, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
}

static inline unsigned long rdtsc(void)
{
	unsigned int lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((unsigned long)hi << 32) | lo;
}

static inline unsigned long rdtscp(void)
{
	unsigned int lo, hi, aux;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux) : : "memory");
	return ((unsigned long)hi << 32) | lo;
}

/* The smallest RDTSC-to-RDTSCP interval: what each timed interval contains besides its work. */
static unsigned long tsc_overhead(void)
{
	unsigned long best = ~0UL;
	for (int i = 0; i < 1000; i++) {
		unsigned long t0 = rdtsc();
		unsigned long t1 = rdtscp();
		if (t1 - t0 < best) best = t1 - t0;
	}
	return best;
}

/* The sizes of a run: the defaults are the paper's; tests pass small ones. */
struct bench_args {
	long n;        /* -n: getpid calls, pages faulted in, ptrace round trips */
	long passes;   /* -p: Appel & Li passes of NRPGS pages (trap is timed inside appel1's) */
	long accesses; /* -w: random reads of the page-walk row */
	long pages;    /* -W: pages of the page-walk row's working set */
	const char *only[16];
	int nonly;
};

static void bench_usage(const char *prog, const char *rows)
{
	fprintf(stderr, "usage: %s [-n N] [-p PASSES] [-w ACCESSES] [-W PAGES] [ROW...]\n"
	                "  rows: %s (default: all)\n", prog, rows);
	exit(2);
}

static long bench_number(const char *prog, const char *rows, const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > 100000000L) {
		fprintf(stderr, "%s: '%s' is not a count from 1 to 100000000\n", prog, s);
		bench_usage(prog, rows);
	}
	return v;
}

/* Parses argv; a row name not in `rows` (space-separated) is refused. */
static struct bench_args bench_parse(int argc, char **argv, const char *rows)
{
	struct bench_args a = { 10000, 100, 100000, WALK_PAGES, { 0 }, 0 };
	const char *prog = argc > 0 ? argv[0] : "bench";
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (s[0] == '-' && s[1] != '\0' && s[2] == '\0' && strchr("npwW", s[1]) != NULL) {
			if (i + 1 >= argc) bench_usage(prog, rows);
			long v = bench_number(prog, rows, argv[++i]);
			if (s[1] == 'n') a.n = v;
			else if (s[1] == 'p') a.passes = v;
			else if (s[1] == 'w') a.accesses = v;
			else a.pages = v;
			continue;
		}
		size_t len = strlen(s);
		const char *r = rows;
		int known = 0;
		while (*r != '\0') {
			size_t w = strcspn(r, " ");
			if (w == len && strncmp(r, s, len) == 0) known = 1;
			r += w;
			r += strspn(r, " ");
		}
		if (!known || a.nonly == 16) {
			fprintf(stderr, "%s: unknown row or option '%s'\n", prog, s);
			bench_usage(prog, rows);
		}
		a.only[a.nonly++] = s;
	}
	if (a.pages > (long)WALK_PAGES * 16 || a.pages < (long)WALK_HOT_PAGES) {
		fprintf(stderr, "%s: -W must be from %lu to %lu pages\n", prog, WALK_HOT_PAGES, WALK_PAGES * 16);
		exit(2);
	}
	return a;
}

/* Whether ROW was asked for (all rows are when none was named). */
static int bench_wants(const struct bench_args *a, const char *row)
{
	if (a->nonly == 0) return 1;
	for (int i = 0; i < a->nonly; i++)
		if (strcmp(a->only[i], row) == 0) return 1;
	return 0;
}

#endif
