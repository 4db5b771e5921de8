/**
 * The 82599's register map, as far as the model goes: byte offsets into BAR0 and the bits the
 * model acts on, with the datasheet's names (Intel 82599 10 GbE Controller Datasheet, §8.2.3;
 * the same names and offsets as Linux's ixgbe_type.h). Registers repeated per queue or per
 * vector are functions of the index. Only queues 0–15 and MSI-X vectors 0–15 are modelled.
 */

/** Bytes of BAR0 (the register space). */
export const NIC_BAR0_SIZE = 0x2_0000;
/** Bytes of BAR3 (the MSI-X table at 0, the pending-bit array at 0x2000). */
export const NIC_MSIX_BAR_SIZE = 0x4000;
export const MSIX_PBA_OFFSET = 0x2000;
/** MSI-X table entries of one 82599 port. */
export const MSIX_ENTRIES = 64;

/** Queue pairs the model has (the 82599 has 128; RSS spreads over at most 16). */
export const NIC_QUEUES = 16;
/** Interrupt vectors with a cause bit in EICR (bits 15:0 in MSI-X mode). */
export const NIC_VECTORS = 16;

// General control and status (§8.2.3.1).
export const CTRL = 0x0_0000;
export const CTRL_RST = 1 << 26; // device reset, self-clearing
export const STATUS = 0x0_0008;
export const CTRL_EXT = 0x0_0018;
export const LINKS = 0x0_42a4;
export const LINKS_UP = 1 << 30;
export const LINKS_SPEED_10G = 3 << 28;

// Interrupts (§8.2.3.5).
export const EICR = 0x0_0800; // cause, write 1 to clear
export const EICS = 0x0_0808; // cause set (software-raised causes)
export const EIAC = 0x0_0810; // auto-clear of causes when their MSI-X message is sent
export const EIMS = 0x0_0880; // mask set: 1 enables a cause's interrupt; reads return the mask
export const EIMC = 0x0_0888; // mask clear
export const EIAM = 0x0_0890;
export const GPIE = 0x0_0898;
export const GPIE_MSIX_MODE = 1 << 4;
/** GPIE.EIAME: an MSI-X message clears the EIMS bits its vector has in EIAM (auto-mask). */
export const GPIE_EIAME = 1 << 30;
/** EITR(n), n < 24: the vector's interrupt throttling; interval in bits 11:3. */
export const eitr = (v: number): number => 0x0_0820 + 4 * v;
export const EITR_INTERVAL_MASK = 0x0ff8;
/**
 * Microseconds per unit of EITR's interval field at 1 and 10 Gb/s (datasheet §8.2.3.5.12; ixgbe's
 * IXGBE_MAX_INT_RATE, 488281 per second, is one unit). ixgbe's IXGBE_20K_ITR, 200, is 25 units:
 * 51.2 µs.
 */
export const EITR_UNIT_US = 2.048;
/**
 * IVAR(n), n < 64: the vectors of queues 2n and 2n+1. Byte 0 is RX queue 2n, byte 1 TX queue 2n,
 * byte 2 RX queue 2n+1, byte 3 TX queue 2n+1; in each byte bits 5:0 are the vector, bit 7 valid.
 */
export const ivar = (n: number): number => 0x0_0900 + 4 * n;
export const IVAR_ALLOC_VAL = 0x80;
/** IVAR_MISC: bits 15:8 name the vector of the "other" causes (link status change), bit 15 valid. */
export const IVAR_MISC = 0x0_0a00;
/** EICR/EIMS bit 20: link status change (LSC), an "other" cause. */
export const EICR_LSC = 1 << 20;

// Receive (§8.2.3.8).
export const rdbal = (q: number): number => 0x0_1000 + 0x40 * q;
export const rdbah = (q: number): number => 0x0_1004 + 0x40 * q;
/** RDLEN: bytes of the ring, a multiple of 128 (8 descriptors). */
export const rdlen = (q: number): number => 0x0_1008 + 0x40 * q;
export const rdh = (q: number): number => 0x0_1010 + 0x40 * q;
export const srrctl = (q: number): number => 0x0_1014 + 0x40 * q;
/** SRRCTL of queues 0–15 also answers at 0x2100 + 4·q (where ixgbe writes it). */
export const SRRCTL_ALIAS = 0x0_2100;
/** SRRCTL.BSIZEPACKET (bits 4:0): receive buffer size in KiB. */
export const SRRCTL_BSIZEPKT_MASK = 0x1f;
/** SRRCTL.DESCTYPE (bits 27:25): 001 is advanced, one buffer. */
export const SRRCTL_DESCTYPE_MASK = 7 << 25;
export const SRRCTL_DESCTYPE_ADV_ONEBUF = 1 << 25;
/** SRRCTL.DROP_EN: drop a packet for this queue when it has no descriptor, instead of holding it. */
export const SRRCTL_DROP_EN = 1 << 28;
export const rdt = (q: number): number => 0x0_1018 + 0x40 * q;
export const rxdctl = (q: number): number => 0x0_1028 + 0x40 * q;
export const XDCTL_ENABLE = 1 << 25; // RXDCTL.ENABLE and TXDCTL.ENABLE
/** QPRC(q): packets received on the queue. */
export const qprc = (q: number): number => 0x0_1030 + 0x40 * q;
/** QPRDC(q): packets dropped for want of a descriptor on the queue (SRRCTL.DROP_EN). */
export const qprdc = (q: number): number => 0x0_1430 + 0x40 * q;
export const RDRXCTL = 0x0_2f00;
export const RDRXCTL_DMAIDONE = 1 << 3;
export const RXCTRL = 0x0_3000;
export const RXCTRL_RXEN = 1;
/** MPC(n): packets missed because the receive packet buffer was full (n < 8; buffer 0 here). */
export const mpc = (n: number): number => 0x0_3fa0 + 4 * n;
export const RXCSUM = 0x0_5000;
/** RXCSUM.PCSD: report the RSS hash in the write-back instead of the fragment checksum. */
export const RXCSUM_PCSD = 1 << 13;
export const FCTRL = 0x0_5080;
export const FCTRL_MPE = 1 << 8; // multicast promiscuous
export const FCTRL_UPE = 1 << 9; // unicast promiscuous
export const FCTRL_BAM = 1 << 10; // accept broadcast
export const MRQC = 0x0_5818;
export const MRQC_MRQE_MASK = 0xf;
export const MRQC_MRQE_RSS = 0x1;
export const MRQC_RSS_TCPIPV4 = 1 << 16;
export const MRQC_RSS_IPV4 = 1 << 17;
export const MRQC_RSS_UDPIPV4 = 1 << 22;
/** RETA(n), n < 32: redirection entries 4n..4n+3, one per byte (queue in bits 3:0). */
export const reta = (n: number): number => 0x0_5c00 + 4 * n;
/** RSSRK(n), n < 10: key bytes 4n..4n+3, byte 4n in bits 7:0. */
export const rssrk = (n: number): number => 0x0_5c80 + 4 * n;
export const ral = (n: number): number => 0x0_a200 + 8 * n;
export const rah = (n: number): number => 0x0_a204 + 8 * n;
/** RAL/RAH of entries 0–15 also answer at 0x5400 + 8·n (where ixgbe writes them). */
export const RAL_ALIAS = 0x0_5400;
export const RAH_AV = 1 << 31; // address valid
/**
 * ETQF(n), n < 8: EtherType queue filters (§7.1.2.3, §8.2.3.8.12). Bits 15:0 the EtherType, bit 31
 * the filter enable. A frame whose EtherType an enabled filter names goes to the queue ETQS(n)
 * names, before RSS is asked.
 */
export const etqf = (n: number): number => 0x0_5128 + 4 * n;
export const ETQF_FILTER_EN = 1 << 31;
export const ETQF_ETYPE_MASK = 0xffff;
/** ETQS(n): bits 22:16 the receive queue, bit 31 the queue enable (§8.2.3.8.13). */
export const etqs = (n: number): number => 0x0_ec00 + 4 * n;
export const ETQS_QUEUE_EN = 1 << 31;
export const ETQS_RX_QUEUE_SHIFT = 16;
export const ETQF_FILTERS = 8;

// Transmit (§8.2.3.9).
export const HLREG0 = 0x0_4240;
export const DMATXCTL = 0x0_4a80;
export const DMATXCTL_TE = 1;
export const tdbal = (q: number): number => 0x0_6000 + 0x40 * q;
export const tdbah = (q: number): number => 0x0_6004 + 0x40 * q;
export const tdlen = (q: number): number => 0x0_6008 + 0x40 * q;
export const tdh = (q: number): number => 0x0_6010 + 0x40 * q;
export const tdt = (q: number): number => 0x0_6018 + 0x40 * q;
export const txdctl = (q: number): number => 0x0_6028 + 0x40 * q;
/** QPTC(q): packets transmitted from the queue (ixgbe_type.h: 0x06030 + 0x40·q). */
export const qptc = (q: number): number => 0x0_6030 + 0x40 * q;

// Statistics (§8.2.3.23), all cleared on read.
export const GPRC = 0x0_4074; // good packets received
export const GPTC = 0x0_4080; // good packets transmitted
export const GORCL = 0x0_4088; // good octets received (low, high): destination address to CRC
export const GORCH = 0x0_408c;
export const GOTCL = 0x0_4090;
export const GOTCH = 0x0_4094;

// Advanced receive descriptor (§7.1.6). Read format: packet buffer address (bytes 0–7), header
// buffer address (8–15). Write-back format: dword 0 RSS type (3:0) and packet type (16:4),
// dword 1 RSS hash, dword 2 extended status (19:0) and errors (31:20), dword 3 length (15:0).
export const RXD_STAT_DD = 0x01;
export const RXD_STAT_EOP = 0x02;
export const RXD_STAT_UDPCS = 0x10;
export const RXD_STAT_L4CS = 0x20;
export const RXD_STAT_IPCS = 0x40;
export const RXD_ERR_TCPE = 0x4000_0000; // L4 (TCP/UDP) checksum error
export const RXD_ERR_IPE = 0x8000_0000; // IPv4 header checksum error
export const RSSTYPE_NONE = 0;
export const RSSTYPE_TCP_IPV4 = 1;
export const RSSTYPE_IPV4 = 2;
export const RSSTYPE_UDP_IPV4 = 7;
export const PKTTYPE_IPV4 = 0x010;
export const PKTTYPE_TCP = 0x100;
export const PKTTYPE_UDP = 0x200;

// Advanced transmit descriptors (§7.2.3.2.3–4). Data: buffer address, then cmd_type_len
// (DTALEN 15:0, DTYP 23:20, DCMD 31:24) and olinfo_status (STA 3:0, IDX 6:4, CC 7, POPTS 13:8,
// PAYLEN 31:14). Context: vlan_macip_lens (IPLEN 8:0, MACLEN 15:9), seqnum_seed,
// type_tucmd_mlhl (TUCMD 19:9 with IPV4 bit 10 and L4T 12:11, DTYP 23:20), mss_l4len_idx (IDX 6:4).
export const TXD_DTALEN_MASK = 0xffff;
export const TXD_DTYP_MASK = 0xf << 20;
export const TXD_DTYP_CTXT = 0x2 << 20;
export const TXD_DTYP_DATA = 0x3 << 20;
export const TXD_CMD_EOP = 1 << 24;
export const TXD_CMD_IFCS = 1 << 25;
export const TXD_CMD_RS = 1 << 27;
export const TXD_CMD_DEXT = 1 << 29;
export const TXD_CMD_TSE = 1 << 31;
export const TXD_STAT_DD = 1;
export const TXD_IDX_SHIFT = 4;
export const TXD_POPTS_IXSM = 1 << 8; // insert the IPv4 header checksum
export const TXD_POPTS_TXSM = 1 << 9; // insert the TCP/UDP checksum
export const TXD_MACLEN_SHIFT = 9;
export const TXD_IPLEN_MASK = 0x1ff;
export const TXD_TUCMD_IPV4 = 1 << 10;
export const TXD_TUCMD_L4T_MASK = 3 << 11;
export const TXD_TUCMD_L4T_UDP = 0 << 11;
export const TXD_TUCMD_L4T_TCP = 1 << 11;
