/*
 * Remote write-fault latency: node 0 owns `pages` pages (nobody has a copy) and waits in a
 * barrier, where it serves requests; node 1 writes one word of each page, so each write is one
 * remote write fault (request, page transfer with ownership, confirmation) and nothing else.
 * Node 1 prints the cycles of the writes and its fault-path counters.
 * Usage: faultlat [pages]
 */
#include "program.h"

int main(int argc, char **argv)
{
	long pages = arg_long(argc, argv, 1, 64);
	if (dsm_init() != 0)
		return 2;
	if (dsm_nodes() < 2) {
		fprintf(stderr, "faultlat: needs two nodes\n");
		return 2;
	}
	char *region = dsm_alloc(pages * DSM_PAGE_SIZE, DSM_PAGE_SIZE);
	dsm_barrier();
	int status = 0;
	if (dsm_node_id() == 1) {
		uint64_t f0 = dsm_stats.fault_cycles, w0 = dsm_stats.wait_cycles, n0 = dsm_stats.net_cycles;
		uint64_t s0 = dsm_stats.send_cycles;
		uint64_t m0 = dsm_stats.coherence_msgs, b0 = dsm_stats.coherence_bytes;
		uint64_t t0 = dsm_rdtsc();
		for (long p = 0; p < pages; p++)
			*(volatile int32_t *) (region + p * DSM_PAGE_SIZE) = (int32_t) p + 1;
		uint64_t t = dsm_rdtsc() - t0;
		dsm_compiler_barrier();
		printf("faults %ld\nfault_total_cycles %llu\nfault_handler_cycles %llu\nfault_net_cycles %llu\nfault_wait_cycles %llu\n",
		       pages, (unsigned long long) t, (unsigned long long) (dsm_stats.fault_cycles - f0),
		       (unsigned long long) (dsm_stats.net_cycles - n0), (unsigned long long) (dsm_stats.wait_cycles - w0));
		printf("fault_send_cycles %llu\n", (unsigned long long) (dsm_stats.send_cycles - s0));
		printf("requester_msgs %llu\nrequester_bytes %llu\n", (unsigned long long) (dsm_stats.coherence_msgs - m0),
		       (unsigned long long) (dsm_stats.coherence_bytes - b0));
	}
	dsm_barrier();
	if (dsm_node_id() == 0) {
		/* Read them back: each page is owned by node 1 now. */
		int32_t got[1] = { 0 }, ref[1] = { 0 };
		for (long p = 0; p < pages; p++) {
			got[0] += *(volatile int32_t *) (region + p * DSM_PAGE_SIZE);
			ref[0] += (int32_t) p + 1;
		}
		status = report(checksum(got, 1), checksum(ref, 1), 0);
	}
	dsm_exit();
	return status;
}
