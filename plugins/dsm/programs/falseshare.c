/*
 * False sharing: `total` additions split among the nodes, each node adding 1 to its own counter
 * total/N times, serving the others between additions (dsm_poll). With the counters on separate pages (padded) each node takes its page
 * once and keeps it; with all counters on one page (shared) the page moves between writers on
 * nearly every addition. Node 0 reports both times; the result is the counters' values.
 * Usage: falseshare [total]
 */
#include "program.h"

static uint64_t phase(volatile int32_t *counter, long iters)
{
	dsm_barrier();
	uint64_t t0 = dsm_rdtsc();
	for (long i = 0; i < iters; i++) {
		*counter += 1;
		dsm_poll();
	}
	dsm_barrier();
	return dsm_rdtsc() - t0;
}

int main(int argc, char **argv)
{
	long total = arg_long(argc, argv, 1, 2000);
	if (dsm_init() != 0)
		return 2;
	int me = dsm_node_id(), n = dsm_nodes();
	long iters = total / n;
	int32_t *padded = dsm_alloc(DSM_PAGE_SIZE * n, DSM_PAGE_SIZE);
	int32_t *shared = dsm_alloc(4 * n, DSM_PAGE_SIZE);
	dsm_compiler_barrier();
	uint64_t f0 = dsm_stats.write_faults;
	uint64_t tp = phase(&padded[me * (DSM_PAGE_SIZE / 4)], iters);
	dsm_compiler_barrier();
	uint64_t f1 = dsm_stats.write_faults;
	uint64_t ts = phase(&shared[me], iters);
	dsm_compiler_barrier();
	uint64_t f2 = dsm_stats.write_faults;
	printf("padded_faults %llu\nshared_faults %llu\n", (unsigned long long) (f1 - f0), (unsigned long long) (f2 - f1));
	int status = 0;
	if (me == 0) {
		int32_t got[2 * DSM_MAX_NODES], ref[2 * DSM_MAX_NODES];
		for (int k = 0; k < n; k++) {
			got[k] = padded[k * (DSM_PAGE_SIZE / 4)], got[n + k] = shared[k];
			ref[k] = ref[n + k] = (int32_t) iters;
		}
		printf("padded_cycles %llu\n", (unsigned long long) tp);
		status = report(checksum(got, 2 * n), checksum(ref, 2 * n), ts);
	}
	dsm_exit();
	return status;
}
