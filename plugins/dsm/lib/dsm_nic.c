/*
 * The NIC transport: DSM messages as raw Ethernet frames on one queue pair of the node's 82599,
 * driven from guest ring 0 inside Dune without system calls (the way IX's dataplane owns a queue).
 *
 * At connect, a set-up hypercall (DSM_VMCALL_NIC_SETUP) hands the host a region of this process's
 * memory; the host writes the region's host-physical page addresses and the cluster's MAC table
 * into its first page, programs the queue's rings there (interrupts unassigned, the DSM EtherType
 * steered to the queue by an ETQF filter) and maps the two BAR0 pages that hold the queue's tail
 * registers at a guest-physical address past Dune's windows, which this driver maps uncached.
 * After that a message costs only instructions and memory accesses in the guest: copy into a
 * transmit buffer, write a descriptor, one uncached store to TDT; receiving is polling a
 * descriptor's DD bit, copying out, re-arming the descriptor and (every few frames) a store to RDT.
 *
 * Frames: destination and source MAC, EtherType 0x88b5, the 32-byte struct dsm_msg, and for a page
 * transfer up to 1,468 bytes of the page (a 1,500-byte MTU: a page is three frames). `pad` carries
 * the fragment's number; a sender's fragments arrive in order (one queue, one path), so a missing
 * one is a lost frame and ends the run with a report.
 */
#include <stdio.h>
#include <string.h>

#include "libdune/dune.h"
#include "dsm_internal.h"

/* Must agree with dsm-nic-abi.ts. */
#define DSM_VMCALL_NIC_SETUP 0x44534d01L
#define DSM_NIC_MAGIC        0x4e44534du
#define DSM_ETHERTYPE        0x88b5
#define NIC_RING             128
#define NIC_BUF              2048
#define REGION_RX_RING       0x1000
#define REGION_TX_RING       0x1800
#define REGION_RX_BUFS       0x2000
#define REGION_TX_BUFS       (REGION_RX_BUFS + NIC_RING * NIC_BUF)
#define REGION_SIZE          (REGION_TX_BUFS + NIC_RING * NIC_BUF)
#define REGION_PAGES         (REGION_SIZE / DSM_PAGE_SIZE)

/* Where this driver maps the register window (two pages) in its own page table. */
#define REGS_VA              0x6f000000UL
#define TAIL_OFFSET(q)       (0x18u + 0x40u * (q)) /* RDT(q), TDT(q) within their BAR0 pages */

#define ETH_HDR              14
#define MSG_OFF              ETH_HDR
#define DATA_OFF             (ETH_HDR + (int) sizeof(struct dsm_msg))
#define MTU                  1500
#define CHUNK                (MTU - (int) sizeof(struct dsm_msg))
/* Receive descriptors given back per RDT write (ixgbe's IXGBE_RX_BUFFER_WRITE is 16). */
#define RDT_BATCH            16

/* The 82599's advanced descriptors (datasheet §7.1.6, §7.2.3.2.4). */
#define RXD_STAT_DD          0x01u
#define RXD_STAT_EOP         0x02u
#define TXD_DTYP_DATA        (0x3u << 20)
#define TXD_CMD_EOP          (1u << 24)
#define TXD_CMD_IFCS         (1u << 25)
#define TXD_CMD_RS           (1u << 27)
#define TXD_CMD_DEXT         (1u << 29)
#define TXD_PAYLEN_SHIFT     14
#define TXD_STAT_DD          0x01u

struct nic_ctl {
	uint32_t magic, queue;
	uint64_t tsc_khz;
	uint8_t mac[DSM_MAX_NODES][8];
	uint64_t page_pa[REGION_PAGES];
};

union rx_desc {
	struct { uint64_t pkt_addr, hdr_addr; } read;
	struct { uint32_t info, rss, status_error; uint16_t length, vlan; } wb;
};

struct tx_desc {
	uint64_t addr;
	uint32_t cmd_type_len, olinfo_status;
};

static char region[REGION_SIZE] __attribute__((aligned(4096)));
static const struct nic_ctl *ctl = (const struct nic_ctl *) region;
static volatile union rx_desc *const rxr = (volatile union rx_desc *) (region + REGION_RX_RING);
static volatile struct tx_desc *const txr = (volatile struct tx_desc *) (region + REGION_TX_RING);
static volatile uint32_t *rdt, *tdt;
static unsigned rx_next, rx_unposted, tx_next, tx_clean;
static uint64_t tsc_khz;

/* A page arriving from each sender: where it lands and which fragment comes next. */
static struct {
	char *dst;
	uint32_t page, type, next;
} incoming[DSM_MAX_NODES];

static char *rx_buf(unsigned i) { return region + REGION_RX_BUFS + (size_t) i * NIC_BUF; }
static char *tx_buf(unsigned i) { return region + REGION_TX_BUFS + (size_t) i * NIC_BUF; }

/* The host-physical address the NIC needs for a byte of the region. */
static uint64_t pa_of(const char *p)
{
	size_t off = (size_t) (p - region);
	return ctl->page_pa[off / DSM_PAGE_SIZE] + off % DSM_PAGE_SIZE;
}

static long vmcall2(long nr, long a0, long a1)
{
	long ret;
	__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1) : "memory");
	return ret;
}

static void arm_rx(unsigned i)
{
	rxr[i].read.pkt_addr = pa_of(rx_buf(i));
	rxr[i].read.hdr_addr = 0; /* also clears the write-back's DD */
}

static int nic_connect(void)
{
	int me = dsm_cfg.node;
	/* Every page of the region present and written before the host looks its frames up. */
	memset(region, 0, sizeof(region));
	long gpa = vmcall2(DSM_VMCALL_NIC_SETUP, (long) region, me);
	if (gpa < 0) {
		fprintf(stderr, "dsm: node %d: the NIC set-up hypercall failed (%ld): DSM_NET=nic needs the DSM plugin's host side on this machine\n", me, gpa);
		return -1;
	}
	if (ctl->magic != DSM_NIC_MAGIC || ctl->queue >= 64 || ctl->tsc_khz == 0) {
		fprintf(stderr, "dsm: node %d: the NIC set-up left no valid control page\n", me);
		return -1;
	}
	if (dune_vm_map_phys(pgroot, (void *) REGS_VA, 2 * PGSIZE, (void *) gpa, PERM_R | PERM_W | PERM_UC) != 0) {
		fprintf(stderr, "dsm: node %d: cannot map the NIC's registers\n", me);
		return -1;
	}
	tsc_khz = ctl->tsc_khz;
	rdt = (volatile uint32_t *) (REGS_VA + TAIL_OFFSET(ctl->queue));
	tdt = (volatile uint32_t *) (REGS_VA + PGSIZE + TAIL_OFFSET(ctl->queue));
	/* Every descriptor armed; the one before the next to read stays the NIC's gap (head = tail
	 * means empty). */
	for (unsigned i = 0; i < NIC_RING; i++)
		arm_rx(i);
	rx_next = 0;
	*rdt = NIC_RING - 1;
	return 0;
}

static void tx_reclaim(void)
{
	while (tx_clean != tx_next && (txr[tx_clean].olinfo_status & TXD_STAT_DD))
		tx_clean = (tx_clean + 1) % NIC_RING;
}

/* Waits for a free transmit descriptor; the MAC sends at line rate, so only a dead link stops it. */
static void tx_wait_slot(void)
{
	unsigned next = (tx_next + 1) % NIC_RING;
	if (next != tx_clean)
		return;
	uint64_t deadline = dsm_rdtsc() + (uint64_t) dsm_cfg.timeout_ms * tsc_khz;
	for (;;) {
		tx_reclaim();
		if (next != tx_clean)
			return;
		if (dsm_rdtsc() >= deadline)
			dsm_fail("the NIC's transmit queue made no progress for %d ms", dsm_cfg.timeout_ms);
		__asm__ volatile("pause");
	}
}

static void nic_send(int to, const struct dsm_msg *m, size_t len)
{
	size_t data = len - sizeof(*m);
	unsigned frags = data == 0 ? 1 : (unsigned) ((data + CHUNK - 1) / CHUNK);
	const char *src = (const char *) (m + 1);
	for (unsigned k = 0; k < frags; k++) {
		tx_wait_slot();
		char *b = tx_buf(tx_next);
		memcpy(b, ctl->mac[to], 6);
		memcpy(b + 6, ctl->mac[dsm_cfg.node], 6);
		b[12] = (char) (DSM_ETHERTYPE >> 8);
		b[13] = (char) (DSM_ETHERTYPE & 0xff);
		memcpy(b + MSG_OFF, m, sizeof(*m));
		((struct dsm_msg *) (b + MSG_OFF))->pad = k;
		size_t n = 0;
		if (data > 0) {
			n = data - (size_t) k * CHUNK;
			if (n > CHUNK)
				n = CHUNK;
			memcpy(b + DATA_OFF, src + (size_t) k * CHUNK, n);
		}
		uint32_t flen = (uint32_t) (DATA_OFF + n); /* the MAC pads a short frame (HLREG0.TXPADEN) */
		txr[tx_next].addr = pa_of(b);
		txr[tx_next].cmd_type_len = flen | TXD_DTYP_DATA | TXD_CMD_DEXT | TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS;
		txr[tx_next].olinfo_status = flen << TXD_PAYLEN_SHIFT;
		tx_next = (tx_next + 1) % NIC_RING;
	}
	dsm_compiler_barrier();
	*tdt = tx_next; /* one uncached store: the NIC fetches the descriptors */
	dsm_stats.nic_frames_sent += frags;
}

/* Takes the frame at rx_next; dispatches the message it completes. */
static void take_frame(void)
{
	uint64_t t0 = dsm_rdtsc();
	volatile union rx_desc *d = &rxr[rx_next];
	uint32_t status = d->wb.status_error;
	unsigned len = d->wb.length;
	const char *b = rx_buf(rx_next);
	struct dsm_msg m;
	int from = -1;
	if ((status & RXD_STAT_EOP) && len >= (unsigned) DATA_OFF && len <= NIC_BUF &&
	    (uint8_t) b[12] == (DSM_ETHERTYPE >> 8) && (uint8_t) b[13] == (DSM_ETHERTYPE & 0xff)) {
		memcpy(&m, b + MSG_OFF, sizeof(m));
		if (m.from < (uint32_t) dsm_cfg.nodes && (int) m.from != dsm_cfg.node && memcmp(b + 6, ctl->mac[m.from], 6) == 0)
			from = (int) m.from;
	}
	if (from < 0)
		dsm_fail("a malformed frame (%u bytes, status 0x%x) on the DSM queue", len, status);
	dsm_check_msg(&m, from);
	int complete = 1;
	if (m.data) {
		unsigned k = m.pad, off = k * CHUNK;
		unsigned n = off < DSM_PAGE_SIZE ? DSM_PAGE_SIZE - off : 0;
		if (n > CHUNK)
			n = CHUNK;
		if (k == 0) {
			incoming[from].dst = dsm_page_landing(&m);
			incoming[from].page = m.page;
			incoming[from].type = m.type;
			incoming[from].next = 0;
		}
		if (incoming[from].dst == NULL || k != incoming[from].next || m.page != incoming[from].page ||
		    m.type != incoming[from].type || n == 0 || len < DATA_OFF + n)
			dsm_fail("frame %u of page %u from node %d out of sequence (a lost frame?)", k, m.page, from);
		memcpy(incoming[from].dst + off, b + DATA_OFF, n);
		incoming[from].next++;
		complete = off + n == DSM_PAGE_SIZE;
		if (complete)
			incoming[from].dst = NULL;
	}
	/* The descriptor goes back before the message is dispatched: dispatch may wait and receive. */
	arm_rx(rx_next);
	rx_next = (rx_next + 1) % NIC_RING;
	if (++rx_unposted >= RDT_BATCH) {
		dsm_compiler_barrier();
		*rdt = (rx_next + NIC_RING - 1) % NIC_RING;
		rx_unposted = 0;
	}
	dsm_stats.nic_frames_received++;
	dsm_net_time(t0);
	if (complete)
		dsm_dispatch(&m);
}

static int nic_poll(int timeout_ms, const char *what, uint32_t page)
{
	(void) what;
	(void) page;
	uint64_t t0 = dsm_rdtsc();
	if (!(rxr[rx_next].wb.status_error & RXD_STAT_DD)) {
		if (timeout_ms == 0)
			return 0;
		uint64_t deadline = t0 + (uint64_t) timeout_ms * tsc_khz;
		while (!(rxr[rx_next].wb.status_error & RXD_STAT_DD)) {
			if (dsm_rdtsc() >= deadline) {
				dsm_wait_time(t0);
				dsm_net_time(t0);
				return 0;
			}
			__asm__ volatile("pause");
		}
		dsm_wait_time(t0);
		dsm_net_time(t0);
	}
	while (rxr[rx_next].wb.status_error & RXD_STAT_DD)
		take_frame();
	return 1;
}

/* Before the process exits: what it posted leaves the MAC (the host switches the queue off at exit). */
static void nic_close(void)
{
	uint64_t deadline = dsm_rdtsc() + (uint64_t) dsm_cfg.timeout_ms * tsc_khz;
	for (tx_reclaim(); tx_clean != tx_next; tx_reclaim()) {
		if (dsm_rdtsc() >= deadline)
			dsm_fail("the NIC's transmit queue did not drain in %d ms", dsm_cfg.timeout_ms);
		__asm__ volatile("pause");
	}
}

const struct dsm_transport dsm_nic_transport = { "nic", nic_connect, nic_send, nic_poll, nic_close };
