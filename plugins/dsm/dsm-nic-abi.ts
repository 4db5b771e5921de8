/**
 * The DSM NIC path's ABI, shared with lib/dsm_nic.h (which must agree with this file): the
 * hypercall that gives a Dune process a queue pair of its node's 82599, the layout of the region
 * of the process's memory that holds the queue's rings and buffers, and the frame format.
 */

/** VMCALL from guest ring 0, RAX = this, RDI = the region (page aligned), RSI = the caller's node. */
export const DSM_VMCALL_NIC_SETUP = 0x4453_4d01;
/** The control page's first word once the host has filled it in. */
export const DSM_NIC_MAGIC = 0x4e44_534d;
/**
 * The EtherType of DSM frames: IEEE 802's "local experimental EtherType 1". Raw Ethernet needs no
 * protocol stack beside the driver, and the 82599 steers an EtherType to a queue (ETQF/ETQS).
 */
export const DSM_ETHERTYPE = 0x88b5;
/** The queue pair a DSM process gets: the kernel's ixgbe uses queue 0 on these one-CPU nodes. */
export const DSM_NIC_QUEUE = 15;
/** The EtherType filter the set-up programs. */
export const DSM_ETQF_FILTER = 0;
export const DSM_NIC_RING = 128;
export const DSM_NIC_BUF = 2048;
export const DSM_MAX_NODES = 16;
export const DSM_NIC_REGION = {
  /** Written by the host: struct dsm_nic_ctl. */
  ctl: 0x0,
  rxRing: 0x1000,
  txRing: 0x1800,
  rxBufs: 0x2000,
  txBufs: 0x2000 + DSM_NIC_RING * DSM_NIC_BUF,
  size: 0x2000 + 2 * DSM_NIC_RING * DSM_NIC_BUF,
} as const;
/** struct dsm_nic_ctl: magic u32, queue u32, tsc_khz u64, mac[16][8], page_pa[pages] u64. */
export const CTL_MAGIC = 0;
export const CTL_QUEUE = 4;
export const CTL_TSC_KHZ = 8;
export const CTL_MACS = 16;
export const CTL_PAGE_PA = CTL_MACS + 8 * DSM_MAX_NODES;
/**
 * Where the register window appears in guest-physical space: past the Dune layout's windows.
 * Page 0 maps BAR0's page of the RX tails (RDT at 0x1018 + 0x40·q), page 1 that of the TX tails
 * (TDT at 0x6018 + 0x40·q).
 */
export const RX_TAIL_PAGE = 0x1000;
export const TX_TAIL_PAGE = 0x6000;
