/*
 * The protocol, shared by both fault paths: IVY's sequentially consistent, page-granular,
 * single-writer / multiple-reader write-invalidate protocol with a manager per page (Li & Hudak,
 * "Memory coherence in shared virtual memory systems"): the improved centralized manager, where the
 * manager keeps only the owner and serialises requests per page, and the owner keeps the copy set;
 * or the fixed distributed manager, where node p mod N is page p's manager.
 *
 * A read fault:  requester -> manager REQ_READ; manager -> owner FWD_READ; owner adds the requester
 *                to the copy set, keeps a read-only copy, and sends PAGE_READ with the data;
 *                requester maps it read-only and sends CONFIRM to the manager.
 * A write fault: requester -> manager REQ_WRITE; manager -> owner FWD_WRITE; owner sends
 *                PAGE_WRITE (the data and the copy set) and drops its copy; the new owner sends
 *                INVALIDATE to every holder of a copy, waits for their acks, maps the page
 *                writable and sends CONFIRM; the manager records the new owner.
 * The manager handles one request per page at a time and queues the others until CONFIRM, so the
 * owner it forwards to is always the real one and invalidations finish before the next transfer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dsm_internal.h"

struct dsm_config dsm_cfg;
struct dsm_stats dsm_stats;
int dsm_in_fault;
const struct dsm_fault_path *dsm_path;

/* What this node holds. */
static uint8_t access_[DSM_MAX_PAGES];
static uint8_t owner_here[DSM_MAX_PAGES];
static uint64_t copyset[DSM_MAX_PAGES];

/* As a manager: the owner of each page it manages and whether a request is in progress. */
static uint8_t mgr_owner[DSM_MAX_PAGES];
static uint8_t mgr_busy[DSM_MAX_PAGES];
#define QUEUE_SLOTS 512
static struct { uint32_t page, node, write; } mgr_queue[QUEUE_SLOTS];
static unsigned mgr_queued;

/* The fault in progress on this node (one at a time: the node's single thread is in it). */
static struct {
	volatile int done;
	uint32_t page;
	int acks;
	uint64_t copyset;
} pending;

/* Locks (managed by node lock mod N) and the barrier (managed by node 0). */
static int8_t lock_holder[DSM_MAX_LOCKS];
static uint8_t lock_waiters[DSM_MAX_LOCKS][DSM_MAX_NODES];
static uint8_t lock_nwait[DSM_MAX_LOCKS];
static volatile int lock_granted;
static uint64_t barrier_gen;
static int barrier_arrived;
static volatile int barrier_go;

static size_t alloc_off;

/* DSM_TEST_CRASH=k: this node dies as it is about to serve its k-th request as an owner (the
 * tests' crashed node). 0: never. */
static int crash_at;

static int manager_of(uint32_t page)
{
	return dsm_cfg.distributed ? (int) (page % (uint32_t) dsm_cfg.nodes) : 0;
}

static void set_access(uint32_t page, int a)
{
	if (access_[page] != a) {
		access_[page] = (uint8_t) a;
		dsm_path->set_access(page, a);
	}
}

static void manager_start(uint32_t page, uint32_t node, int write)
{
	mgr_busy[page] = 1;
	dsm_send(mgr_owner[page], write ? DSM_FWD_WRITE : DSM_FWD_READ, page, node, 0, NULL);
}

static void manager_request(uint32_t page, uint32_t node, int write)
{
	if (!mgr_busy[page]) {
		manager_start(page, node, write);
		return;
	}
	if (mgr_queued == QUEUE_SLOTS)
		dsm_fail("manager queue full (page %u, node %u)", page, node);
	mgr_queue[mgr_queued].page = page;
	mgr_queue[mgr_queued].node = node;
	mgr_queue[mgr_queued].write = (uint32_t) write;
	mgr_queued++;
}

static void manager_confirm(uint32_t page, uint32_t node, int write)
{
	if (!mgr_busy[page])
		dsm_fail("confirmation of page %u from node %u with no request in progress", page, node);
	if (write)
		mgr_owner[page] = (uint8_t) node;
	mgr_busy[page] = 0;
	for (unsigned i = 0; i < mgr_queued; i++) {
		if (mgr_queue[i].page != page)
			continue;
		uint32_t n = mgr_queue[i].node, w = mgr_queue[i].write;
		memmove(&mgr_queue[i], &mgr_queue[i + 1], (mgr_queued - i - 1) * sizeof(mgr_queue[0]));
		mgr_queued--;
		manager_start(page, n, (int) w);
		return;
	}
}

/* The new owner has the page and the copy set: invalidate, then take it writable. */
static void ownership_done(uint32_t page)
{
	owner_here[page] = 1;
	copyset[page] = 0;
	set_access(page, DSM_WRITE);
	dsm_send(manager_of(page), DSM_CONFIRM, page, (uint32_t) dsm_cfg.node, 1, NULL);
	pending.done = 1;
}

static void owner_send(const struct dsm_msg *m, int write);

static void owner_serve(const struct dsm_msg *m, int write)
{
	uint64_t t0 = dsm_rdtsc();
	owner_send(m, write);
	dsm_stats.serve_cycles += dsm_rdtsc() - t0;
}

static void owner_send(const struct dsm_msg *m, int write)
{
	uint32_t p = m->page;
	if (!owner_here[p])
		dsm_fail("asked to serve page %u for node %u, but this node does not own it", p, m->node);
	dsm_stats.requests_served++;
	if (crash_at > 0 && dsm_stats.requests_served == (uint64_t) crash_at)
		_exit(9);
	if (!write) {
		/* The data leaves before the page is downgraded: the read copy is what was written. */
		copyset[p] |= 1ULL << m->node;
		set_access(p, DSM_READ);
		dsm_send((int) m->node, DSM_PAGE_READ, p, m->node, 0, dsm_page_addr(p));
		return;
	}
	uint64_t cs = copyset[p];
	if ((int) m->node == dsm_cfg.node) {
		dsm_send(dsm_cfg.node, DSM_PAGE_WRITE, p, m->node, cs, NULL);
		return;
	}
	dsm_send((int) m->node, DSM_PAGE_WRITE, p, m->node, cs, dsm_page_addr(p));
	owner_here[p] = 0;
	copyset[p] = 0;
	set_access(p, DSM_NONE);
}

void dsm_dispatch(const struct dsm_msg *m)
{
	uint32_t p = m->page;
	/* A peer's message is input: its page or lock number indexes this node's tables. */
	if (m->type >= DSM_LOCK_REQ && m->type <= DSM_UNLOCK) {
		if (p >= DSM_MAX_LOCKS)
			dsm_fail("%u is not a lock (from node %u)", p, m->from);
	} else if (m->type < DSM_BARRIER && p >= dsm_cfg.pages) {
		dsm_fail("message of type %u from node %u about page %u, beyond the %zu pages allocated here",
			 m->type, m->from, p, dsm_cfg.pages);
	}
	switch (m->type) {
	case DSM_REQ_READ:
	case DSM_REQ_WRITE:
		if (manager_of(p) != dsm_cfg.node)
			dsm_fail("request for page %u from node %u reached a node that does not manage it", p, m->from);
		manager_request(p, m->node, m->type == DSM_REQ_WRITE);
		break;
	case DSM_FWD_READ:
	case DSM_FWD_WRITE:
		owner_serve(m, m->type == DSM_FWD_WRITE);
		break;
	case DSM_PAGE_READ:
		if (pending.done || pending.page != p)
			dsm_fail("unexpected read copy of page %u from node %u", p, m->from);
		set_access(p, DSM_READ);
		dsm_send(manager_of(p), DSM_CONFIRM, p, (uint32_t) dsm_cfg.node, 0, NULL);
		pending.done = 1;
		break;
	case DSM_PAGE_WRITE: {
		if (pending.done || pending.page != p)
			dsm_fail("unexpected ownership of page %u from node %u", p, m->from);
		uint64_t cs = m->arg & ~(1ULL << dsm_cfg.node) & ~(1ULL << m->from);
		if (m->data && cs != 0)
			set_access(p, DSM_READ); /* the data is here: a copy until the others are gone */
		pending.acks = 0;
		for (int j = 0; j < dsm_cfg.nodes; j++) {
			if (cs & (1ULL << j)) {
				dsm_send(j, DSM_INVALIDATE, p, (uint32_t) dsm_cfg.node, 0, NULL);
				dsm_stats.invalidations_sent++;
				pending.acks++;
			}
		}
		if (pending.acks == 0)
			ownership_done(p);
		break;
	}
	case DSM_INVALIDATE:
		if (owner_here[p])
			dsm_fail("invalidation of page %u from node %u, but this node owns it", p, m->from);
		set_access(p, DSM_NONE);
		dsm_send((int) m->from, DSM_INV_ACK, p, m->from, 0, NULL);
		break;
	case DSM_INV_ACK:
		if (pending.done || pending.page != p || pending.acks <= 0)
			dsm_fail("unexpected invalidation ack for page %u from node %u", p, m->from);
		if (--pending.acks == 0)
			ownership_done(p);
		break;
	case DSM_CONFIRM:
		manager_confirm(p, m->node, m->arg != 0);
		break;
	case DSM_LOCK_REQ:
		if (lock_holder[p] < 0) {
			lock_holder[p] = (int8_t) m->from;
			dsm_send((int) m->from, DSM_LOCK_GRANT, p, m->from, 0, NULL);
		} else {
			for (int k = 0; k < lock_nwait[p]; k++)
				if (lock_waiters[p][k] == m->from)
					dsm_fail("node %u asked twice for lock %u", m->from, p);
			if (lock_holder[p] == (int8_t) m->from)
				dsm_fail("node %u asked for lock %u, which it holds", m->from, p);
			lock_waiters[p][lock_nwait[p]++] = (uint8_t) m->from;
		}
		break;
	case DSM_UNLOCK:
		if (lock_holder[p] != (int8_t) m->from)
			dsm_fail("node %u unlocked lock %u it does not hold", m->from, p);
		if (lock_nwait[p] > 0) {
			lock_holder[p] = (int8_t) lock_waiters[p][0];
			memmove(&lock_waiters[p][0], &lock_waiters[p][1], --lock_nwait[p]);
			dsm_send(lock_holder[p], DSM_LOCK_GRANT, p, (uint32_t) lock_holder[p], 0, NULL);
		} else {
			lock_holder[p] = -1;
		}
		break;
	case DSM_LOCK_GRANT:
		lock_granted = 1;
		break;
	case DSM_BARRIER:
		if (dsm_cfg.node != 0)
			dsm_fail("barrier arrival from node %u at a node other than 0", m->from);
		if (++barrier_arrived == dsm_cfg.nodes) {
			barrier_arrived = 0;
			for (int j = 0; j < dsm_cfg.nodes; j++)
				dsm_send(j, DSM_BARRIER_GO, 0, (uint32_t) j, m->arg, NULL);
		}
		break;
	case DSM_BARRIER_GO:
		if (m->arg != barrier_gen)
			dsm_fail("release of barrier %llu while at barrier %llu", (unsigned long long) m->arg,
				 (unsigned long long) barrier_gen);
		barrier_go = 1;
		break;
	default:
		dsm_fail("unknown message type %u from node %u", m->type, m->from);
	}
}

void dsm_fault(uint32_t page, int write)
{
	uint64_t t0 = dsm_rdtsc();
	if (page >= dsm_cfg.pages)
		dsm_fail("fault on page %u, beyond the %zu pages allocated", page, dsm_cfg.pages);
	if (access_[page] >= (write ? DSM_WRITE : DSM_READ))
		return; /* already served (the fault raced with a message that mapped it) */
	if (write)
		dsm_stats.write_faults++;
	else
		dsm_stats.read_faults++;
	dsm_in_fault = 1;
	pending.page = page;
	pending.done = 0;
	int mgr = manager_of(page);
	dsm_send(mgr, write ? DSM_REQ_WRITE : DSM_REQ_READ, page, (uint32_t) dsm_cfg.node, 0, NULL);
	dsm_wait(&pending.done, write ? "ownership" : "a read copy", page, mgr);
	dsm_in_fault = 0;
	dsm_stats.fault_cycles += dsm_rdtsc() - t0;
}

static int env_int(const char *name, int def, int lo, int hi)
{
	const char *s = getenv(name);
	if (s == NULL)
		return def;
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "dsm: %s=%s: a whole number from %d to %d\n", name, s, lo, hi);
		exit(2);
	}
	return (int) v;
}

static int parse_ipv4(const char *s, uint32_t *out)
{
	unsigned a, b, c, d;
	char tail;
	if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 || d > 255)
		return -1;
	*out = (a << 24) | (b << 16) | (c << 8) | d;
	return 0;
}

int dsm_init(void)
{
	dsm_cfg.nodes = env_int("DSM_NODES", 1, 1, DSM_MAX_NODES);
	dsm_cfg.node = env_int("DSM_NODE", 0, 0, dsm_cfg.nodes - 1);
	dsm_cfg.port = env_int("DSM_PORT", 7100, 1, 65535);
	dsm_cfg.timeout_ms = env_int("DSM_TIMEOUT_MS", 1000, 1, 3600000);
	crash_at = env_int("DSM_TEST_CRASH", 0, 0, 1 << 30);
	const char *mode = getenv("DSM_MODE"), *mgr = getenv("DSM_MANAGER"), *base = getenv("DSM_ADDR_BASE");
	if (mode == NULL || strcmp(mode, "linux") == 0)
		dsm_cfg.dune = 0;
	else if (strcmp(mode, "dune") == 0)
		dsm_cfg.dune = 1;
	else {
		fprintf(stderr, "dsm: DSM_MODE=%s: linux or dune\n", mode);
		return -1;
	}
	/* Messaging: the NIC queue from ring 0 is Dune's (DSM_NET=socket keeps Dune on sockets, for
	 * comparison); the Linux process has only its sockets. */
	const char *net = getenv("DSM_NET");
	if (net == NULL)
		dsm_cfg.nic = dsm_cfg.dune;
	else if (strcmp(net, "socket") == 0)
		dsm_cfg.nic = 0;
	else if (strcmp(net, "nic") == 0 && dsm_cfg.dune)
		dsm_cfg.nic = 1;
	else {
		fprintf(stderr, "dsm: DSM_NET=%s: socket, or nic with DSM_MODE=dune (the driver runs in guest ring 0)\n", net);
		return -1;
	}
	if (mgr == NULL || strcmp(mgr, "central") == 0)
		dsm_cfg.distributed = 0;
	else if (strcmp(mgr, "distributed") == 0)
		dsm_cfg.distributed = 1;
	else {
		fprintf(stderr, "dsm: DSM_MANAGER=%s: central or distributed\n", mgr);
		return -1;
	}
	if (parse_ipv4(base == NULL ? "10.0.0.1" : base, &dsm_cfg.addr_base) != 0) {
		fprintf(stderr, "dsm: DSM_ADDR_BASE=%s: an IPv4 address\n", base);
		return -1;
	}
	void *r = mmap((void *) DSM_REGION_BASE, DSM_MAX_PAGES * DSM_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (r != (void *) DSM_REGION_BASE) {
		fprintf(stderr, "dsm: cannot map the shared region at 0x%lx\n", DSM_REGION_BASE);
		return -1;
	}
	/* Every page starts owned by node 0 and zero everywhere; until dsm_alloc hands it out nobody
	 * may touch it (an access there is an ordinary fault). */
	for (int i = 0; i < DSM_MAX_PAGES; i++) {
		owner_here[i] = dsm_cfg.node == 0;
		access_[i] = DSM_NONE;
		mgr_owner[i] = 0;
	}
	for (int l = 0; l < DSM_MAX_LOCKS; l++)
		lock_holder[l] = -1;
	dsm_path = dsm_cfg.dune ? &dsm_dune_path : &dsm_linux_path;
	if (dsm_path->init() != 0)
		return -1;
	dsm_path->set_all(DSM_NONE);
	if (dsm_net_connect() != 0)
		return -1;
	return 0;
}

void *dsm_alloc(size_t bytes, size_t align)
{
	if (align == 0 || (align & (align - 1)) != 0)
		dsm_fail("dsm_alloc: alignment %zu is not a power of two", align);
	size_t off = (alloc_off + align - 1) & ~(align - 1);
	if (bytes > DSM_MAX_PAGES * DSM_PAGE_SIZE - off)
		dsm_fail("dsm_alloc: %zu bytes do not fit in the shared region", bytes);
	alloc_off = off + bytes;
	size_t pages = (alloc_off + DSM_PAGE_SIZE - 1) / DSM_PAGE_SIZE;
	/* Node 0 owns the new pages: it may write them at once. */
	for (size_t p = dsm_cfg.pages; p < pages && dsm_cfg.node == 0; p++)
		set_access((uint32_t) p, DSM_WRITE);
	dsm_cfg.pages = pages;
	return (void *) (DSM_REGION_BASE + off);
}

void dsm_lock(int lock)
{
	if (lock < 0 || lock >= DSM_MAX_LOCKS)
		dsm_fail("dsm_lock: lock %d outside 0..%d", lock, DSM_MAX_LOCKS - 1);
	lock_granted = 0;
	int mgr = lock % dsm_cfg.nodes;
	dsm_send(mgr, DSM_LOCK_REQ, (uint32_t) lock, (uint32_t) dsm_cfg.node, 0, NULL);
	dsm_wait(&lock_granted, "a lock grant", DSM_NO_PAGE, mgr);
}

void dsm_unlock(int lock)
{
	if (lock < 0 || lock >= DSM_MAX_LOCKS)
		dsm_fail("dsm_unlock: lock %d outside 0..%d", lock, DSM_MAX_LOCKS - 1);
	dsm_send(lock % dsm_cfg.nodes, DSM_UNLOCK, (uint32_t) lock, (uint32_t) dsm_cfg.node, 0, NULL);
	dsm_net_poll();
}

void dsm_barrier(void)
{
	/* Node 0 releases generation g only when every node has arrived at g, so no release of a
	 * later generation can be in flight while this one is awaited. */
	barrier_go = 0;
	dsm_send(0, DSM_BARRIER, 0, (uint32_t) dsm_cfg.node, ++barrier_gen, NULL);
	dsm_wait(&barrier_go, "a barrier release", DSM_NO_PAGE, 0);
}

void dsm_poll(void)
{
	dsm_net_poll();
}

int dsm_node_id(void)
{
	return dsm_cfg.node;
}

int dsm_nodes(void)
{
	return dsm_cfg.nodes;
}

void dsm_exit(void)
{
	dsm_closing = 1;
	dsm_barrier();
	dsm_net_close();
	struct dsm_stats *s = &dsm_stats;
	printf("dsm node %d\n", dsm_cfg.node);
	printf("dsm read_faults %llu\ndsm write_faults %llu\n", (unsigned long long) s->read_faults, (unsigned long long) s->write_faults);
	printf("dsm msgs_sent %llu\ndsm bytes_sent %llu\n", (unsigned long long) s->msgs_sent, (unsigned long long) s->bytes_sent);
	printf("dsm coherence_msgs %llu\ndsm coherence_bytes %llu\n", (unsigned long long) s->coherence_msgs, (unsigned long long) s->coherence_bytes);
	printf("dsm pages_sent %llu\ndsm invalidations_sent %llu\n", (unsigned long long) s->pages_sent, (unsigned long long) s->invalidations_sent);
	printf("dsm requests_served %llu\n", (unsigned long long) s->requests_served);
	printf("dsm fault_cycles %llu\ndsm net_cycles %llu\ndsm wait_cycles %llu\n", (unsigned long long) s->fault_cycles,
	       (unsigned long long) s->net_cycles, (unsigned long long) s->wait_cycles);
	printf("dsm send_cycles %llu\ndsm serve_cycles %llu\n", (unsigned long long) s->send_cycles,
	       (unsigned long long) s->serve_cycles);
	printf("dsm nic_frames_sent %llu\ndsm nic_frames_received %llu\n", (unsigned long long) s->nic_frames_sent,
	       (unsigned long long) s->nic_frames_received);
	fflush(stdout);
}
