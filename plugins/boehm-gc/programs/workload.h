/*
 * What the workloads share: the start (GC_init, incremental mode), the clock (the TSC, read as
 * bench/micro does) and the report every variant must agree on:
 *
 *     result CHECKSUM        the workload's answer, the same under every GC_VARIANT
 *     cycles N               TSC cycles from after GC_init to the end of the work
 *     gc NAME VALUE          the collector's statistics (GC_print_stats)
 *
 * Each program takes one optional argument, a scale (workload-specific, documented in its file
 * and in docs/boehm-gc.md); a bad one is refused with a message.
 */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc.h"

static inline unsigned long wl_rdtsc(void)
{
	unsigned int lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((unsigned long) hi << 32) | lo;
}

static inline unsigned long wl_rdtscp(void)
{
	unsigned int lo, hi, aux;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux) : : "memory");
	return ((unsigned long) hi << 32) | lo;
}

/* argv[1] as a scale from lo to hi, or dflt when absent. */
static inline long wl_scale(int argc, char **argv, long dflt, long lo, long hi)
{
	if (argc < 2)
		return dflt;
	char *end;
	long v = strtol(argv[1], &end, 10);
	if (argc > 2 || *argv[1] == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "usage: %s [SCALE]   (SCALE: an integer from %ld to %ld, default %ld)\n",
			argv[0], lo, hi, dflt);
		exit(2);
	}
	return v;
}

static unsigned long wl_t0;

static inline void wl_start(void)
{
	GC_init();
	GC_enable_incremental();
	wl_t0 = wl_rdtsc();
}

static inline int wl_finish(unsigned long checksum)
{
	unsigned long t1 = wl_rdtscp();
	printf("result %lu\n", checksum);
	printf("cycles %lu\n", t1 - wl_t0);
	GC_print_stats();
	return 0;
}

#endif
