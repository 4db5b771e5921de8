/*
 * Jacobi relaxation on a grid of integers (one 4 KiB page per row of 1024 cells): each cell
 * becomes the mean of its four neighbours, from grid a into grid b, then the grids swap. Node k
 * owns a block of rows; each iteration it reads the two rows next to its block from its
 * neighbours (read faults) and writes its own edge rows, which they had copies of (write faults
 * that invalidate them). Node 0 checks the final grid against the same iterations run alone.
 * Usage: jacobi [rows] [iterations]
 */
#include <string.h>

#include "program.h"

#define W 1024

static void init_row(int32_t *row, long i, long rows)
{
	for (long j = 0; j < W; j++)
		row[j] = (i == 0 || i == rows + 1 || j == 0 || j == W - 1) ? (int32_t) ((i * 37 + j * 11) % 1000) * 64 : 0;
}

static void relax_row(const int32_t *up, const int32_t *mid, const int32_t *down, int32_t *out)
{
	out[0] = mid[0];
	for (long j = 1; j < W - 1; j++)
		out[j] = (up[j] + down[j] + mid[j - 1] + mid[j + 1]) >> 2;
	out[W - 1] = mid[W - 1];
}

int main(int argc, char **argv)
{
	long rows = arg_long(argc, argv, 1, 1024), iters = arg_long(argc, argv, 2, 4);
	if (dsm_init() != 0)
		return 2;
	int me = dsm_node_id(), n = dsm_nodes();
	long total = rows + 2;
	int32_t (*a)[W] = dsm_alloc(total * W * 4, DSM_PAGE_SIZE);
	int32_t (*b)[W] = dsm_alloc(total * W * 4, DSM_PAGE_SIZE);
	long lo, hi;
	block_of(rows, me, n, &lo, &hi);
	lo++, hi++; /* row 0 is the fixed top edge */
	dsm_barrier();
	/* b's rows too: the first iteration's writes would otherwise take them from node 0. */
	for (long i = lo; i < hi; i++) {
		init_row(a[i], i, rows);
		init_row(b[i], i, rows);
	}
	if (me == 0) {
		init_row(a[0], 0, rows), init_row(b[0], 0, rows);
		init_row(a[total - 1], total - 1, rows), init_row(b[total - 1], total - 1, rows);
	}
	/* Timed from here: each node has its rows (taking them from node 0 is set-up). */
	dsm_barrier();
	uint64_t t0 = dsm_rdtsc();
	for (long it = 0; it < iters; it++) {
		/* Fetch what this iteration needs while the neighbours are in the library too. */
		(void) *(volatile int32_t *) &a[lo - 1][0];
		(void) *(volatile int32_t *) &a[hi][0];
		if (hi > lo) {
			b[lo][0] = a[lo][0];
			b[hi - 1][0] = a[hi - 1][0];
		}
		for (long i = lo; i < hi; i++) {
			relax_row(a[i - 1], a[i], a[i + 1], b[i]);
			if ((i & 3) == 3)
				dsm_poll();
		}
		dsm_barrier();
		int32_t (*t)[W] = a;
		a = b, b = t;
	}
	uint64_t cycles = dsm_rdtsc() - t0;
	int status = 0;
	if (me == 0) {
		int32_t (*ra)[W] = malloc(total * W * 4), (*rb)[W] = malloc(total * W * 4);
		for (long i = 0; i < total; i++)
			init_row(ra[i], i, rows), init_row(rb[i], i, rows);
		for (long it = 0; it < iters; it++) {
			for (long i = 1; i <= rows; i++)
				relax_row(ra[i - 1], ra[i], ra[i + 1], rb[i]);
			int32_t (*t)[W] = ra;
			ra = rb, rb = t;
		}
		uint64_t got = 0;
		int32_t *copy = malloc(total * W * 4);
		memcpy(copy, a, total * W * 4);
		got = checksum(copy, total * W);
		status = report(got, checksum(&ra[0][0], total * W), cycles);
	}
	dsm_exit();
	return status;
}
