/* What every DSM program shares: argument parsing, a checksum, and the report node 0 prints
 * ("result", "reference", "verified", "cycles"), which plugins/dsm parses. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dsm.h"

static inline long arg_long(int argc, char **argv, int i, long def)
{
	if (argc <= i)
		return def;
	char *end;
	long v = strtol(argv[i], &end, 10);
	if (*argv[i] == '\0' || *end != '\0' || v <= 0) {
		fprintf(stderr, "%s: argument %d (%s): a positive whole number\n", argv[0], i, argv[i]);
		exit(2);
	}
	return v;
}

/* FNV-1a over 32-bit words. */
static inline uint64_t checksum(const int32_t *a, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint32_t) a[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Node 0's report: the distributed result, the single-node reference, and the parallel part's
 * time. Returns the exit status (1 when they differ). */
static inline int report(uint64_t result, uint64_t reference, uint64_t cycles)
{
	printf("result %llu\nreference %llu\nverified %s\ncycles %llu\n", (unsigned long long) result,
	       (unsigned long long) reference, result == reference ? "yes" : "no", (unsigned long long) cycles);
	return result == reference ? 0 : 1;
}

static inline void block_of(long n, int part, int parts, long *lo, long *hi)
{
	*lo = n * part / parts;
	*hi = n * (part + 1) / parts;
}
