/**
 * The IX dataplane's ABI (IX, OSDI'14, Table 1; upstream's inc/ix/syscall.h), shared with the C
 * library in lib/ix.h: the numbers, the layout of the batched-call and event descriptors, and the
 * layout of the region of guest memory an elastic thread owns. lib/ix.h must agree with this file.
 */

/** App → dataplane calls are SYSCALLs numbered from here (upstream's SYSCALL_START). */
export const IX_SYSCALL_START = 0x10_0000;
/** run_io: process the batch, poll the queues, return the events (the only unbatched call). */
export const SYS_BPOLL = IX_SYSCALL_START + 0;
/** The hypercall (VMCALL from guest ring 0) that makes the calling thread an elastic thread. */
export const IX_VMCALL_SETUP = 0x20_0000;

/** Batched calls (KSYS_*), in bsys_desc.sysnr. */
export const KSYS_TCP_CONNECT = 3;
export const KSYS_TCP_ACCEPT = 4;
export const KSYS_TCP_SENDV = 7;
export const KSYS_TCP_RECV_DONE = 8;
export const KSYS_TCP_CLOSE = 9;

/** Event conditions (USYS_*), in ix_event.type. */
export const USYS_TCP_CONNECTED = 2;
export const USYS_TCP_KNOCK = 3;
export const USYS_TCP_RECV = 4;
export const USYS_TCP_SENT = 5;
export const USYS_TCP_DEAD = 6;

/** Return codes, negated in a call's return slot (RET_*). */
export const RET_OK = 0;
export const RET_NOMEM = 1;
export const RET_NOBUFS = 2;
export const RET_INVAL = 3;
export const RET_AGAIN = 4;
export const RET_FAULT = 5;
export const RET_NOSYS = 6;
export const RET_BADH = 8;
export const RET_CLOSED = 9;
export const RET_CONNREFUSED = 10;

/** struct bsys_desc {sysnr, arga, argb, argc, argd}: five 64-bit words. On return arga = cookie, argb = return value. */
export const BSYS_DESC_SIZE = 40;
/** The most calls one batch may carry (upstream's libix command array is 4096; the array is checked as a whole). */
export const BSYS_MAX = 1024;
/** struct ix_event {type, handle, cookie, arg0, arg1}: five 64-bit words. */
export const EVENT_SIZE = 40;
/** struct sg_entry {base, len}. */
export const SG_ENTRY_SIZE = 16;
/** MAX_SG_ENTRIES. */
export const MAX_SG_ENTRIES = 30;

/**
 * The region of guest memory an elastic thread owns (libix allocates it, 2 MiB aligned, and maps
 * its parts with the permissions below before it asks for the hypercall).
 */
export const REGION = {
  /** The dataplane's entry: the native's stub and a RET (supervisor, executable). */
  entry: 0x0,
  /** RX descriptor ring, one page (supervisor). */
  rxRing: 0x1000,
  /** TX descriptor ring, one page (supervisor). */
  txRing: 0x2000,
  /** libix's batched-call array (user read/write). */
  calls: 0x1_0000,
  /** The event array (user read-only, written by the dataplane). */
  events: 0x2_0000,
  /** TX buffers, 2 KiB each (supervisor). */
  txBuffers: 0x4_0000,
  /** RX mbufs, 2 KiB each (user read-only: received payloads are read in place). */
  mbufs: 0x10_0000,
  size: 0x40_0000,
} as const;

export const RING_ENTRIES = 256;
export const MBUF_DATA_LEN = 2048;
/** mbufs in the per-core pool: the RX ring's worth plus what the application may hold. */
export const MBUFS = (REGION.size - REGION.mbufs) / MBUF_DATA_LEN;
export const MAX_EVENTS = (REGION.txBuffers - REGION.events) / EVENT_SIZE;
/** IX's default batch bound B (ix.conf `batch`, eth_rx_max_batch). */
export const DEFAULT_BATCH = 64;
/** RX descriptors replenished at a time (IXGBE_RDT_THRESH: PCIe write coalescing on RX). */
export const RDT_THRESH = 32;
