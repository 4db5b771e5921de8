import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config-error.js';
import { LlcGeometry, validateLlcGeometry } from './last-level-cache.js';

/**
 * The cycle cost of each mechanism event. Every field is a constant of the profile file with a
 * `source`; the machine charges them as the events happen (docs/architecture.md §2). Fields are plain numbers
 * so hot paths read them with one load.
 */
export const COST_CONSTANTS = {
  instruction: 'one retired instruction (CPI of the modelled core)',
  walkRef: 'one memory reference of a page walk (1-D, or either dimension of a 2-D walk)',
  tlbFlush: 'a TLB flush by MOV CR3, INVPCID all-context or INVVPID, beyond the CR3 write itself',
  invlpg: 'INVLPG of one page',
  cr3Write: 'MOV to CR3',
  exceptionDelivery: 'delivering an exception or interrupt through the IDT (incl. stack switch)',
  iretq: 'IRETQ',
  syscall: 'SYSCALL (ring 3 → ring 0 through LSTAR)',
  sysret: 'SYSRET (ring 0 → ring 3)',
  vmExit: 'a VM exit: guest state saved to the VMCS, host state loaded',
  vmEntry: 'a VM entry (VMLAUNCH / VMRESUME): host state saved, guest state loaded and checked',
  cpuid: 'CPUID executed natively (no exit)',
  rdtsc: 'RDTSC',
  msrAccess: 'RDMSR / WRMSR of an MSR that does not exit',
  lockedRmw: 'a LOCK-prefixed read-modify-write (or XCHG with memory) on a cache line the core owns: atomic_inc, spin_lock, rwsem down/up',
  descriptorLoad: 'LGDT / LIDT / LTR',
  // Linux kernel paths (calibrated on the Linux columns of the papers' tables only).
  syscallPath: 'Linux system-call entry and exit code plus table dispatch and a trivial body (between SYSCALL and SYSRET)',
  pageFaultPath: 'Linux do_page_fault up to the decision: entry, find_vma, access checks',
  pageAllocPath: 'Linux handle_mm_fault for a not-present anonymous page: allocate a pre-zeroed page, install the PTE',
  signalDeliveryPath: 'Linux force_sig + do_signal + setup_rt_frame: queue a signal and build the rt_sigframe',
  sigreturnPath: 'Linux rt_sigreturn body: restore_sigcontext and the signal mask',
  mprotectBase: 'Linux mprotect body up to mprotect_fixup: take mmap_sem, find_vma, check the range',
  mprotectPath: 'Linux mprotect_fixup when the protection changes: split and merge VMAs, TLB flush request',
  mprotectPerPage: 'Linux mprotect per page: change_pte_range for one PTE',
  contextSwitchPath: 'Linux schedule() + context_switch() between two tasks (excluding the CR3 write)',
  ptraceStopPath: 'Linux ptrace_stop / ptrace_notify: stop the tracee, notify and wake the tracer',
  ptraceRequestPath: 'Linux ptrace() request body (PTRACE_SYSCALL, GETREGS …) after the syscall entry',
  wait4Path: 'Linux wait4 body: scan children, collect a stopped or dead child',
  forkPath: 'Linux fork: copy task, mm and VMAs (per-PTE copying charged separately)',
  forkPerPte: 'Linux fork: copy one PTE and take a page reference (COW)',
  exitPath: 'Linux do_exit: tear down mm, files, notify the parent',
  execPath: 'Linux execve of a small static binary: open and read the file, copy argv/envp, begin_new_exec (flush the old mm, files, signals), map the image and build the initial stack',
  threadPath: 'Linux copy_process of a task that shares the mm (a thread, or CLONE_VM), or do_exit of a thread that is not the last',
  futexPath: 'Linux futex() body: get_futex_key, hash-bucket lock, compare and queue, or walk and wake',
  ipi: 'an inter-processor interrupt as its sender sees it: the ICR write, delivery to the target and the wait for its acknowledgement (flush_tlb_others)',
  socketCallPath: 'Linux socket-layer call body (socket, bind, listen, setsockopt, getsockname …): sockfd_lookup and the protocol handler',
  tcpAcceptPath: 'Linux TCP connection set-up as the server sees it: the handshake segments in the receive softirq, the child sock, accept()',
  tcpSendPath: 'Linux tcp_sendmsg for one call: copy into an skb, tcp_push, ip_queue_xmit and the driver transmit',
  tcpRecvPath: 'Linux tcp_recvmsg for one call plus the receive softirq of the segment it reads',
  tcpClosePath: 'Linux close of an established TCP socket: tcp_close, the FIN/ACK segments in softirq, sock teardown',
  copyUserPerByte: 'Linux copy_to_user / copy_from_user per byte moved between user memory and a socket buffer (the call\'s fixed part is in its path)',
  pollPath: 'Linux poll / epoll_wait / epoll_ctl call body (excluding the files looked at)',
  pollPerFile: 'Linux f_op->poll of one file during poll or epoll_wait',
  irqPath: 'Linux device interrupt beyond IDT delivery and IRETQ: common_interrupt, do_IRQ, irq_enter/irq_exit, handle_edge_irq and the driver handler that schedules NAPI',
  netRxActionPath: 'Linux NET_RX softirq pass: __do_softirq, net_rx_action and one napi poll call with its completion (per poll, not per packet)',
  netRxPacketPath: 'Linux driver receive of one frame: ixgbe_clean_rx_irq per descriptor (skb build, checksum flags, eth_type_trans, napi_gro_receive) and the buffer refill',
  netTxPacketPath: 'Linux transmit of one frame below the protocol: dev_queue_xmit, the qdisc, ixgbe_xmit_frame (descriptor set-up) and its later clean in ixgbe_clean_tx_irq',
  // The Dune module's own kernel paths (kern/*.c), counted from its code, not fitted.
  duneEptFaultPath: 'Dune module EPT-violation handling, its instructions: vmx_handle_ept_violation (the exit-information VMREADs), vmx_do_ept_fault, get_user_pages_fast and the slow path around handle_mm_fault, ept_set_epte / ept_lookup_gpa',
  // Device registers (uncached memory-mapped I/O): what the CPU pays for a load or store that
  // reaches a device instead of RAM.
  mmioRead: 'an uncached load from a device register: a non-posted PCIe read, the core stalls for the completion',
  mmioWrite: 'an uncached store to a device register: a posted PCIe write, serialised with the UC stores around it',
  // The I/O path's latencies, seen by the device rather than charged to a CPU: they delay what
  // the device does and when its writes become visible, never a core's work.
  pciePostedWrite: 'a posted PCIe write, one way: a CPU store reaching a device register, or a device DMA write (a buffer, a descriptor write-back, an MSI-X message) landing in host memory',
  pcieDmaRead: 'a device DMA read of host memory (a descriptor, a transmit buffer): the request and its completion, round trip',
  macTxLatency: "the NIC's transmit pipeline once a packet is in its buffer: MAC, PCS and serdes, to the first bit on the wire",
  macRxLatency: "the NIC's receive pipeline from a frame's last bit at the port to its DMA: serdes, PCS, MAC and the FCS check",
} as const;

export type CostConstant = keyof typeof COST_CONSTANTS;

export interface ProfileConstant {
  value: number;
  unit: string;
  source: string;
}

export interface ProfileFile {
  name: string;
  description: string;
  cpu: string;
  clockHz: number;
  /** TLB geometry: entries of the 4 KiB TLB and its associativity, and of the large-page TLB. */
  tlb: {
    entries4k: number;
    ways4k: number;
    entriesLarge: number;
    waysLarge: number;
    /** Paging-structure-cache entries per level (absent: no such caches). */
    psc?: { pml4: number; pdpt: number; pd: number };
    source: string;
  };
  /** The last-level cache the network stack's state goes through (absent: no cache proxy). */
  llc?: LlcGeometry;
  constants: Record<CostConstant, ProfileConstant>;
}

export class CostModel implements Record<CostConstant, number> {
  instruction = 0;
  walkRef = 0;
  tlbFlush = 0;
  invlpg = 0;
  cr3Write = 0;
  exceptionDelivery = 0;
  iretq = 0;
  syscall = 0;
  sysret = 0;
  vmExit = 0;
  vmEntry = 0;
  cpuid = 0;
  rdtsc = 0;
  msrAccess = 0;
  descriptorLoad = 0;
  syscallPath = 0;
  pageFaultPath = 0;
  pageAllocPath = 0;
  signalDeliveryPath = 0;
  sigreturnPath = 0;
  mprotectBase = 0;
  mprotectPath = 0;
  mprotectPerPage = 0;
  contextSwitchPath = 0;
  ptraceStopPath = 0;
  ptraceRequestPath = 0;
  wait4Path = 0;
  forkPath = 0;
  socketCallPath = 0;
  tcpAcceptPath = 0;
  tcpSendPath = 0;
  tcpRecvPath = 0;
  tcpClosePath = 0;
  copyUserPerByte = 0;
  pollPath = 0;
  pollPerFile = 0;
  irqPath = 0;
  netRxActionPath = 0;
  netRxPacketPath = 0;
  netTxPacketPath = 0;
  forkPerPte = 0;
  exitPath = 0;
  execPath = 0;
  threadPath = 0;
  futexPath = 0;
  ipi = 0;
  duneEptFaultPath = 0;
  lockedRmw = 0;
  mmioRead = 0;
  mmioWrite = 0;
  pciePostedWrite = 0;
  pcieDmaRead = 0;
  macTxLatency = 0;
  macRxLatency = 0;

  constructor(readonly profile: ProfileFile) {
    for (const k of Object.keys(COST_CONSTANTS) as CostConstant[]) this[k] = profile.constants[k].value;
  }

  get clockHz(): number {
    return this.profile.clockHz;
  }
}

const PROFILE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'profiles');

export const DEFAULT_PROFILE = 'dune-e3-1230v2';

export function availableProfiles(): string[] {
  return readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.json')).map((f) => basename(f, '.json')).sort();
}

/**
 * Loads a profile by name (a file in core/vtx/profiles) or by path, and checks that every
 * constant is there with a number and a source. A broken profile is refused with the field named.
 */
export function loadProfile(nameOrPath: string = DEFAULT_PROFILE): ProfileFile {
  const path = nameOrPath.endsWith('.json') ? nameOrPath : join(PROFILE_DIR, `${nameOrPath}.json`);
  if (!existsSync(path)) {
    throw new ConfigError(`unknown cost profile '${nameOrPath}'; available: ${availableProfiles().join(', ')}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cost profile ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return validateProfile(raw, path);
}

export function validateProfile(raw: unknown, where: string): ProfileFile {
  const fail = (msg: string): never => {
    throw new ConfigError(`cost profile ${where}: ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null) fail('not a JSON object');
  const p = raw as Record<string, unknown>;
  for (const f of ['name', 'description', 'cpu'] as const) {
    if (typeof p[f] !== 'string') fail(`field '${f}' must be a string`);
  }
  if (typeof p.clockHz !== 'number' || !(p.clockHz > 0)) fail(`field 'clockHz' must be a positive number`);
  const tlb = p.tlb as Record<string, unknown> | undefined;
  if (typeof tlb !== 'object' || tlb === null) fail(`field 'tlb' is missing`);
  for (const f of ['entries4k', 'ways4k', 'entriesLarge', 'waysLarge'] as const) {
    const v = tlb![f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || (v & (v - 1)) !== 0) {
      fail(`field 'tlb.${f}' must be a power of two`);
    }
  }
  if (tlb!.psc !== undefined) {
    const psc = tlb!.psc as Record<string, unknown>;
    for (const f of ['pml4', 'pdpt', 'pd'] as const) {
      const v = psc?.[f];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`field 'tlb.psc.${f}' must be a whole number >= 0`);
    }
  }
  if ((tlb!.entries4k as number) < (tlb!.ways4k as number) || (tlb!.entriesLarge as number) < (tlb!.waysLarge as number)) {
    fail(`field 'tlb': entries must be at least the number of ways`);
  }
  if (p.llc !== undefined) {
    if (typeof p.llc !== 'object' || p.llc === null) fail(`field 'llc' must be an object`);
    validateLlcGeometry(p.llc as Record<string, unknown>, `cost profile ${where}`);
  }
  const constants = p.constants as Record<string, unknown> | undefined;
  if (typeof constants !== 'object' || constants === null) fail(`field 'constants' is missing`);
  for (const k of Object.keys(COST_CONSTANTS)) {
    const c = constants![k] as Record<string, unknown> | undefined;
    if (c === undefined) fail(`constant '${k}' (${COST_CONSTANTS[k as CostConstant]}) is missing`);
    if (typeof c!.value !== 'number' || !Number.isFinite(c!.value) || c!.value < 0) {
      fail(`constant '${k}' needs a non-negative number 'value'`);
    }
    if (typeof c!.source !== 'string' || c!.source.trim() === '') fail(`constant '${k}' needs a 'source'`);
    if (typeof c!.unit !== 'string') fail(`constant '${k}' needs a 'unit'`);
  }
  for (const k of Object.keys(constants!)) {
    if (!(k in COST_CONSTANTS)) fail(`unknown constant '${k}'; known: ${Object.keys(COST_CONSTANTS).join(', ')}`);
  }
  return raw as ProfileFile;
}
