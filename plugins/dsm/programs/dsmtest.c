/*
 * The protocol test: read copies, ownership moving between nodes, invalidation of copies, a lock
 * and barriers. Each node writes its own pages, every node reads every page, then all nodes add to
 * one counter under a lock and to one shared page without it in turns (writes that move the page).
 * Usage: dsmtest [rounds] [stray]
 * stray = 1: node 1 then writes just past the allocated part of the region (an ordinary fault).
 */
#include "program.h"

#define PAGES_PER_NODE 2

int main(int argc, char **argv)
{
	long rounds = arg_long(argc, argv, 1, 4);
	if (dsm_init() != 0)
		return 2;
	int me = dsm_node_id(), n = dsm_nodes();
	int32_t *pages = dsm_alloc(DSM_PAGE_SIZE * PAGES_PER_NODE * n, DSM_PAGE_SIZE);
	int32_t *counter = dsm_alloc(DSM_PAGE_SIZE, DSM_PAGE_SIZE);
	int32_t *turns = dsm_alloc(DSM_PAGE_SIZE, DSM_PAGE_SIZE);
	const long words = DSM_PAGE_SIZE / 4 * PAGES_PER_NODE;
	dsm_barrier();
	if (arg_long(argc, argv, 2, 2) == 1 && me == 1)
		*(volatile int32_t *) (turns + DSM_PAGE_SIZE / 4) = 1;
	uint64_t t0 = dsm_rdtsc();
	int bad = 0;
	for (long r = 0; r < rounds; r++) {
		for (long i = 0; i < words; i++)
			pages[me * words + i] = (int32_t) (r * 1000003 + me * 7919 + i);
		dsm_barrier();
		for (int k = 0; k < n; k++)
			for (long i = 0; i < words; i++)
				if (pages[k * words + i] != (int32_t) (r * 1000003 + k * 7919 + i))
					bad++;
		dsm_lock(1);
		counter[0]++;
		dsm_unlock(1);
		for (int k = 0; k < n; k++) {
			if (k == me)
				turns[me] += (int32_t) (r + 1);
			dsm_barrier();
		}
	}
	dsm_barrier();
	uint64_t cycles = dsm_rdtsc() - t0;
	int status = 0;
	if (me == 0) {
		/* The same operations on one node, in order. */
		int32_t ref[DSM_MAX_NODES + 1] = { 0 };
		ref[0] = (int32_t) (rounds * n);
		for (int k = 0; k < n; k++)
			ref[1 + k] = (int32_t) (rounds * (rounds + 1) / 2);
		int32_t got[DSM_MAX_NODES + 1];
		got[0] = counter[0];
		for (int k = 0; k < n; k++)
			got[1 + k] = turns[k];
		printf("mismatched words %d\n", bad);
		status = report(checksum(got, n + 1), checksum(ref, n + 1), cycles);
	} else if (bad) {
		printf("mismatched words %d\n", bad);
		status = 1;
	}
	dsm_exit();
	return status;
}
