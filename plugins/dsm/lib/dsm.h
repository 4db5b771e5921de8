/*
 * dsm: page-based distributed shared memory for programs run on several simulated machines, one
 * process per node (SPMD). Sequentially consistent, IVY-style (Li & Hudak): pages of one shared
 * region, a single writer or many readers per page, write-invalidate, ownership kept by a
 * central manager or by a fixed distributed manager (page p is managed by node p mod N).
 *
 * The same protocol code runs under two fault paths, chosen by DSM_MODE:
 *   linux  SIGSEGV handler and mprotect (an ordinary process);
 *   dune   the program enters Dune (libDune, precise mode) and a ring-0 page-fault handler
 *          edits the PTEs of the shared region itself and INVLPGs.
 *
 * Configuration is read from the environment by dsm_init:
 *   DSM_NODE=i  DSM_NODES=n  DSM_MODE=linux|dune  DSM_MANAGER=central|distributed
 *   DSM_ADDR_BASE=a.b.c.d   node i listens at a.b.c.(d+i), port DSM_PORT (default 7100)
 *   DSM_TIMEOUT_MS=t        how long a node waits without hearing anything before it gives up
 *                           and reports what it waited for (default 1000 ms)
 *
 * A node serves the other nodes' requests whenever it is inside the library: in a fault, a lock,
 * a barrier, dsm_poll. A loop that runs long without touching a page it lacks should call
 * dsm_poll now and then (see docs/dsm.md).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define DSM_PAGE_SIZE 4096UL
/* Where the shared region lives: the same address on every node, below 4 GiB (Dune's identity
 * window, where a guest-virtual address is its guest-physical one). */
#define DSM_REGION_BASE 0x60000000UL
#define DSM_MAX_PAGES 8192
#define DSM_MAX_NODES 16
#define DSM_MAX_LOCKS 64

/* Reads the configuration, maps the region, connects to the other nodes (and enters Dune in dune
 * mode). Returns 0, or prints why and returns -1. */
int dsm_init(void);
/* Allocates from the shared region; every node must make the same calls in the same order, and
 * before the barrier after which any node touches the memory (a node refuses messages about
 * pages it has not allocated).
 * align: a power of two (DSM_PAGE_SIZE gives a region of whole pages). */
void *dsm_alloc(size_t bytes, size_t align);
void dsm_lock(int lock);
void dsm_unlock(int lock);
void dsm_barrier(void);
/* Serves whatever requests have arrived, without waiting. */
void dsm_poll(void);
int dsm_node_id(void);
int dsm_nodes(void);
/* The last barrier: every node's requests are served until all have arrived, then the sockets
 * close. Prints the node's statistics ("dsm NAME VALUE"). */
void dsm_exit(void);

/* Counters of one node (dsm_exit prints them). */
struct dsm_stats {
	uint64_t read_faults, write_faults;
	uint64_t msgs_sent, bytes_sent;  /* messages to other nodes, and their size on the wire */
	uint64_t pages_sent, invalidations_sent;
	uint64_t requests_served;         /* forwarded requests this node answered as owner */
	uint64_t fault_cycles;            /* from handler entry to return, summed */
	uint64_t net_cycles;              /* of which in the messaging path: socket calls and waiting */
	uint64_t wait_cycles;             /* of which blocked waiting for a message (in poll) */
	uint64_t send_cycles;             /* of net_cycles: sending (the transport's send) */
	uint64_t serve_cycles;            /* as an owner: from a forwarded request to the page sent */
	uint64_t coherence_msgs, coherence_bytes; /* of msgs_sent: those about pages (not locks, barriers) */
	uint64_t nic_frames_sent, nic_frames_received; /* Ethernet frames of the NIC transport (0 on sockets) */
};
/* Updated by fault handlers behind the compiler's back: read it after dsm_compiler_barrier(). */
extern struct dsm_stats dsm_stats;

static inline void dsm_compiler_barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static inline uint64_t dsm_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t) hi << 32) | lo;
}
