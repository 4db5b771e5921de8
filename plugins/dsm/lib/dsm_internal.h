/* What the protocol (dsm_core.c), the transport (dsm_protocol.c) and the two fault paths
 * (dsm_linux.c, dsm_dune.c) share. */
#pragma once

#include "dsm.h"

enum dsm_access { DSM_NONE = 0, DSM_READ = 1, DSM_WRITE = 2 };

enum dsm_msg_type {
	DSM_HELLO = 1,   /* first message on a connection: who is calling */
	DSM_REQ_READ,    /* faulting node -> manager */
	DSM_REQ_WRITE,
	DSM_FWD_READ,    /* manager -> owner: serve node `node` */
	DSM_FWD_WRITE,
	DSM_PAGE_READ,   /* owner -> requester, with the page: a read copy */
	DSM_PAGE_WRITE,  /* owner -> requester, with the page (unless owner == requester) and the
	                    copy set: ownership */
	DSM_INVALIDATE,  /* new owner -> each holder of a copy */
	DSM_INV_ACK,
	DSM_CONFIRM,     /* requester -> manager: done; arg = 1 for a write (new owner) */
	DSM_LOCK_REQ,
	DSM_LOCK_GRANT,
	DSM_UNLOCK,
	DSM_BARRIER,     /* node -> node 0: arrived at barrier `arg` */
	DSM_BARRIER_GO,  /* node 0 -> all: barrier `arg` is complete */
	DSM_TYPES
};

/* The header every message carries on the wire; MSG_PAGE_* add DSM_PAGE_SIZE bytes of data. */
struct dsm_msg {
	uint32_t type;
	uint32_t from;
	uint32_t page;   /* page index in the region, or lock number */
	uint32_t node;   /* the requester a request is about */
	uint64_t arg;    /* copy set, barrier generation, write flag */
	uint32_t data;   /* 1 if DSM_PAGE_SIZE bytes follow */
	uint32_t pad;
};
#define DSM_HEADER_BYTES ((uint64_t) sizeof(struct dsm_msg))

struct dsm_config {
	int node, nodes;
	int dune;         /* fault path: 0 linux, 1 dune */
	int distributed;  /* manager: 0 central (node 0), 1 page mod nodes */
	uint32_t addr_base;
	int port;
	int timeout_ms;
	int nic;          /* messaging: 0 sockets, 1 the NIC queue (Dune only) */
	size_t pages;     /* pages handed out by dsm_alloc so far (the region's used part) */
};
extern struct dsm_config dsm_cfg;

static inline char *dsm_page_addr(uint32_t page)
{
	return (char *) (DSM_REGION_BASE + (uintptr_t) page * DSM_PAGE_SIZE);
}

/* A fault path: dsm_linux.c or dsm_dune.c. */
struct dsm_fault_path {
	const char *name;
	int (*init)(void);                          /* after the region is mapped */
	void (*set_access)(uint32_t page, int access); /* protection of one page */
	void (*set_all)(int access);                /* of the whole region, at the start */
	void (*fill_begin)(uint32_t page);          /* before data from the network lands in a page */
};
extern const struct dsm_fault_path dsm_linux_path, dsm_dune_path;
extern const struct dsm_fault_path *dsm_path;

/* Protocol (dsm_core.c): a fault on `page`, and one message that arrived. */
void dsm_fault(uint32_t page, int write);
void dsm_dispatch(const struct dsm_msg *m);

/*
 * A messaging path. dsm_socket.c: a TCP connection per pair of nodes through the kernel's sockets
 * (the Linux fault path; inside Dune each call is a VMCALL). dsm_nic.c: raw Ethernet frames on a
 * queue pair of the node's 82599 driven from guest ring 0 (Dune only), without system calls.
 */
struct dsm_transport {
	const char *name;
	int (*connect)(void);
	/* One message, header and (if len is larger) the page, to another node. */
	void (*send)(int to, const struct dsm_msg *m, size_t len);
	/* Receives and dispatches what arrives within timeout_ms (0: what is there now); 1 if
	 * anything arrived. `what` and `page` name the wait in a report (NULL: not waiting). */
	int (*poll)(int timeout_ms, const char *what, uint32_t page);
	void (*close)(void);
};
extern const struct dsm_transport dsm_socket_transport, dsm_nic_transport;

/* For the transports (dsm_protocol.c). */
extern int dsm_in_fault;
extern const char *const dsm_msg_names[DSM_TYPES];
/* Refuses (dsm_fail) a header that cannot have come from node `from`. */
void dsm_check_msg(const struct dsm_msg *m, int from);
/* Where a page message's data lands, made ready for it (the fault path's fill_begin). */
char *dsm_page_landing(const struct dsm_msg *m);
/* Time since t0 was spent in the messaging path (and, for wait, blocked): counted in a fault. */
void dsm_net_time(uint64_t t0);
void dsm_wait_time(uint64_t t0);

/* Transport (dsm_protocol.c). */
int dsm_net_connect(void);
void dsm_net_close(void);
/* Sends to node `to` (itself: queued locally, never with data). data: NULL or one page. */
void dsm_send(int to, uint32_t type, uint32_t page, uint32_t node, uint64_t arg, const void *data);
/* The `page` of a wait that is not for a page (a barrier, a lock). */
#define DSM_NO_PAGE 0xffffffffu
/* Receives and dispatches messages until *flag becomes non-zero; `what` names the wait for the
 * report if nothing comes (a lost message, a crashed node). */
void dsm_wait(volatile int *flag, const char *what, uint32_t page, int peer);
/* Set by dsm_exit: peers released from the last barrier may close before this node is. */
extern int dsm_closing;
/* Dispatches what has arrived, without blocking. */
void dsm_net_poll(void);
/* The report for a run that cannot go on: names the page and the node, then exits. */
void dsm_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
