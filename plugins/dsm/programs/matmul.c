/*
 * Blocked matrix multiply C = A x B of n x n integers. Node k fills its rows of A and B, then
 * computes its rows of C from its rows of A and all of B: it first reads every page of B (read
 * copies from every node), then multiplies in 32 x 32 blocks. Node 0 checks C against the
 * product computed alone.
 * Usage: matmul [n]
 */
#include <string.h>

#include "program.h"

#define BS 32

static int32_t a_at(long i, long j) { return (int32_t) ((i * 7 + j * 3) % 17) - 8; }
static int32_t b_at(long i, long j) { return (int32_t) ((i * 5 + j * 11) % 13) - 6; }

static void multiply(const int32_t *a, const int32_t *b, int32_t *c, long n, long lo, long hi, int poll)
{
	for (long i = lo; i < hi; i++)
		for (long j = 0; j < n; j++)
			c[i * n + j] = 0;
	for (long ii = lo; ii < hi; ii += BS)
		for (long kk = 0; kk < n; kk += BS)
			for (long jj = 0; jj < n; jj += BS) {
				for (long i = ii; i < ii + BS && i < hi; i++)
					for (long k = kk; k < kk + BS && k < n; k++) {
						int32_t x = a[i * n + k];
						for (long j = jj; j < jj + BS && j < n; j++)
							c[i * n + j] += x * b[k * n + j];
					}
				/* A block is some 32K multiply-adds: serve the others between blocks. */
				if (poll)
					dsm_poll();
			}
}

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 128);
	if (dsm_init() != 0)
		return 2;
	int me = dsm_node_id(), nodes = dsm_nodes();
	int32_t *a = dsm_alloc(n * n * 4, DSM_PAGE_SIZE);
	int32_t *b = dsm_alloc(n * n * 4, DSM_PAGE_SIZE);
	int32_t *c = dsm_alloc(n * n * 4, DSM_PAGE_SIZE);
	/* Blocks of rows are whole pages of C (and of A and B): rows split mid-page would put two
	 * nodes' writes on one page of C, which would move between them (false sharing). */
	long unit = 1;
	while ((unit * n * 4) % DSM_PAGE_SIZE != 0)
		unit++;
	long units = (n + unit - 1) / unit, lo, hi;
	block_of(units, me, nodes, &lo, &hi);
	lo *= unit, hi *= unit;
	if (hi > n)
		hi = n;
	if (lo > n)
		lo = n;
	dsm_barrier();
	for (long i = lo; i < hi; i++)
		for (long j = 0; j < n; j++)
			a[i * n + j] = a_at(i, j), b[i * n + j] = b_at(i, j);
	/* Timed from here: each node has its rows of A and B (taking them from node 0 is set-up). */
	dsm_barrier();
	uint64_t t0 = dsm_rdtsc();
	/* Read copies of all of B, and ownership of this node's rows of C, while every node is in
	 * the library to serve them. */
	for (long off = 0; off < n * n; off += DSM_PAGE_SIZE / 4)
		(void) *(volatile int32_t *) &b[off];
	for (long off = lo * n; off < hi * n; off += DSM_PAGE_SIZE / 4)
		c[off] = 0;
	if (hi > lo)
		c[hi * n - 1] = 0;
	multiply(a, b, c, n, lo, hi, 1);
	dsm_barrier();
	uint64_t cycles = dsm_rdtsc() - t0;
	int status = 0;
	if (me == 0) {
		int32_t *ra = malloc(n * n * 4), *rb = malloc(n * n * 4), *rc = malloc(n * n * 4), *copy = malloc(n * n * 4);
		for (long i = 0; i < n; i++)
			for (long j = 0; j < n; j++)
				ra[i * n + j] = a_at(i, j), rb[i * n + j] = b_at(i, j);
		multiply(ra, rb, rc, n, 0, n, 0);
		memcpy(copy, c, n * n * 4);
		status = report(checksum(copy, n * n), checksum(rc, n * n), cycles);
	}
	dsm_exit();
	return status;
}
