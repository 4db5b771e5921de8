/*
 * Parallel merge sort of n integers: node k sorts its block (generated in place), then in rounds
 * of doubling width node k (k a multiple of 2w) merges its block with the one w nodes above it,
 * from one shared array into the other; the blocks it merges come from their writers' pages.
 * Node 0 checks the sorted array against its own sort of the same input.
 * Usage: mergesort [n]
 */
#include <string.h>

#include "program.h"

static int32_t value(long i)
{
	uint32_t x = (uint32_t) i * 2654435761u + 12345u;
	x ^= x >> 13;
	x *= 0x5bd1e995u;
	x ^= x >> 15;
	return (int32_t) (x & 0x7fffffff);
}

static void merge(const int32_t *src, int32_t *dst, long lo, long mid, long hi)
{
	long i = lo, j = mid, k = lo;
	while (i < mid && j < hi)
		dst[k++] = src[i] <= src[j] ? src[i++] : src[j++];
	while (i < mid)
		dst[k++] = src[i++];
	while (j < hi)
		dst[k++] = src[j++];
}

/* Bottom-up merge sort of a[0..n) with scratch t; the result is in a. */
static void sort(int32_t *a, int32_t *t, long n)
{
	int32_t *src = a, *dst = t;
	for (long w = 1; w < n; w *= 2) {
		for (long lo = 0; lo < n; lo += 2 * w) {
			long mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			merge(src, dst, lo, mid, hi);
		}
		int32_t *x = src;
		src = dst, dst = x;
	}
	if (src != a)
		memcpy(a, src, n * 4);
}

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 65536);
	if (dsm_init() != 0)
		return 2;
	int me = dsm_node_id(), nodes = dsm_nodes();
	int32_t *x = dsm_alloc(n * 4, DSM_PAGE_SIZE), *y = dsm_alloc(n * 4, DSM_PAGE_SIZE);
	long lo, hi;
	block_of(n, me, nodes, &lo, &hi);
	dsm_barrier();
	uint64_t t0 = dsm_rdtsc();
	/* Sort the block privately, then put it in place: one write fault per page of the block. */
	int32_t *mine = malloc((hi - lo) * 4 + 4), *scratch = malloc((hi - lo) * 4 + 4);
	for (long i = lo; i < hi; i++)
		mine[i - lo] = value(i);
	sort(mine, scratch, hi - lo);
	memcpy(&x[lo], mine, (hi - lo) * 4);
	dsm_barrier();
	int32_t *src = x, *dst = y;
	for (int w = 1; w < nodes; w *= 2) {
		if (me % (2 * w) == 0) {
			long l, m, h, dummy;
			block_of(n, me, nodes, &l, &dummy);
			block_of(n, me + w < nodes ? me + w : nodes - 1, nodes, &m, &dummy);
			if (me + w >= nodes)
				m = n;
			int last = me + 2 * w < nodes ? me + 2 * w : nodes;
			block_of(n, last - 1, nodes, &dummy, &h);
			merge(src, dst, l, m, h);
		}
		dsm_barrier();
		int32_t *t = src;
		src = dst, dst = t;
	}
	uint64_t cycles = dsm_rdtsc() - t0;
	int status = 0;
	if (me == 0) {
		int32_t *ref = malloc(n * 4), *tmp = malloc(n * 4), *copy = malloc(n * 4);
		for (long i = 0; i < n; i++)
			ref[i] = value(i);
		sort(ref, tmp, n);
		memcpy(copy, src, n * 4);
		status = report(checksum(copy, n), checksum(ref, n), cycles);
	}
	dsm_exit();
	return status;
}
