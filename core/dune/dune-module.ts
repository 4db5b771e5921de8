import {
  CR0_ET, CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE, CR4_PCIDE,
  CR4_FSGSBASE, CR4_PGE, CR4_VMXE, EPT_PS, EPT_QUAL_FETCH, EPT_QUAL_WRITE, EPT_R, EPT_W, EPT_X, EPTP_MT_WB,
  EPTP_WALK_LENGTH_4, GD_KD, GD_KT, LARGE_PAGE_SIZE, MSR_FS_BASE, MSR_GS_BASE, PAGE_SIZE, PTE_P, PTE_W, Vector, CR4_SMEP,
} from '../vtx/arch.js';
import { Cpu, RAX, RCX, RDI, RDX, RSI, RSP, R8, R9, R10 } from '../vtx/cpu.js';
import { PageTables, eptLeafFlags } from '../vtx/page-tables.js';
import { VMCS_REVISION_ID } from '../vtx/vmcs.js';
import {
  CPU_ACTIVATE_SECONDARY_CONTROLS, CPU_HLT_EXITING, CPU_USE_MSR_BITMAPS, ENTRY_IA32E_MODE,
  EXIT_HOST_ADDR_SPACE_SIZE, PIN_EXTERNAL_INTERRUPT_EXITING, PIN_NMI_EXITING,
  SECONDARY_ENABLE_EPT, SECONDARY_ENABLE_INVPCID, SECONDARY_ENABLE_RDTSCP, SECONDARY_ENABLE_VPID,
  VmExitReason, VmcsField as F,
} from '../vtx/vmcs-field.js';
import { writeHostState } from '../vtx/vmcs-state.js';
import { BLOCKED, Kernel } from '../linux/kernel.js';
import { ARCH_SET_FS, ARCH_SET_GS, EFAULT, EINTR, EINVAL, ERESTARTNOHAND, ERESTARTSYS, ERESTART_RESTARTBLOCK, SA_RESTART, SIG_DFL, SIG_IGN, isRestartCode, ENOTTY, NR, STACK_TOP, TASK_SIZE, exitedStatus, DUNE_ENTER, DUNE_GET_LAYOUT, DUNE_GET_SYSCALL } from '../linux/linux-abi.js';
import { PtRegs } from '../linux/pt-regs.js';
import { nextSignalNumber } from '../linux/signals.js';
import { Process, Task } from '../linux/task.js';
import { DUNE_CFG, DUNE_CONFIG_SIZE, DUNE_NUM_SYSCALLS, DUNE_UNSUPPORTED_SYSCALLS, DuneRet } from './dune-abi.js';
import type { VmExitHandler, VmExitInfo } from '../framework/vm-exit-handler.js';
import { DuneLayout } from './dune-layout.js';

const TWO_32 = 0x1_0000_0000;
/** Ranges up to this size are invalidated page by page; larger ones by one walk of the EPT. */
const NOTIFY_PAGEWISE_LIMIT = 512 * PAGE_SIZE;
/** VMCALL is 0F 01 C1: three bytes, the step back of a restarted call. */
const VMCALL_LENGTH = 3;

const GIB = 2 ** 30;

/**
 * Instructions of get_user_pages' slow path besides find_vma and handle_mm_fault (which
 * `pageFaultPath` and `pageAllocPath` charge): Linux 3.2 mm/memory.c __get_user_pages' set-up
 * and loop, follow_page before and after the fault (the pgd/pud/pmd/pte offsets,
 * pte_offset_map_lock, vm_normal_page, get_page) and cond_resched, counted from the source.
 */
const GUP_SLOW_PATH_INSTRUCTIONS = 160;

/** One entered thread's virtual CPU (struct vmx_vcpu). */
export class DuneVcpu {
  /** The thread's user registers at DUNE_ENTER, restored when the ioctl returns. */
  readonly hostRegs = new PtRegs();
  launched = false;
  /** The CPU this vCPU last entered its guest on (vcpu->cpu); -1 before the first entry. */
  cpu = -1;
  /** dune_config in user memory. */
  confVa = 0;
  /** Where the last VMCALL was, and whether it can be made again (see resumeGuest). */
  vmcallRip = 0;
  vmcallRestartable = false;
  constructor(
    readonly task: Task,
    readonly vmcs: number,
    readonly vpid: number,
    readonly ept: PageTables,
  ) {}
}

export interface DuneModuleOptions {
  /** Plugins' VM-exit handlers, asked before the module's own handling (core/framework/vm-exit-handler.ts). */
  exitHandlers?: readonly VmExitHandler[];
  /** Size of each guest-physical window (default 4 GiB, the paper's figure). */
  window?: number;
  /**
   * Give guests CR4.SMEP: their ring 0 cannot fetch instructions from user pages. Upstream's
   * module leaves it clear (libDune's full mode maps everything with U, code included); a
   * sandbox, whose ring-0 runtime never runs user code on purpose, turns it on so that it never
   * does by accident either.
   */
  smep?: boolean;
}

/**
 * The Dune kernel module (VMX root): `/dev/dune` with DUNE_ENTER, DUNE_GET_SYSCALL and
 * DUNE_GET_LAYOUT; one vCPU (VMCS, VPID, EPT) per entered thread; the EPT filled lazily from the
 * process's own page tables on EPT violations and invalidated through the MMU-notifier chain;
 * VMCALL dispatched into the Linux system-call table; CPUID passed through; HLT as a yield;
 * exits counted by reason; signals by leaving with DUNE_RET_SIGNAL; a forked child outside Dune.
 */
export class DuneModule {
  readonly layout: DuneLayout;
  /** Native at HOST_RIP: the exit handler (vmx_launch's loop body). */
  readonly exitHandler: number;
  private nextVpid = 1;
  /** VPIDs of freed vCPUs, handed out again (vmx.c's vmx_vpid_bitmap). */
  private readonly freeVpids: number[] = [];
  /** Every vCPU that exists (vmx.c's global list), for the MMU notifiers and for tests. */
  readonly vcpus = new Set<DuneVcpu>();
  private readonly vmxonRegions = new Map<number, number>();
  private readonly msrBitmap: number;
  /**
   * The address spaces whose notifier chain the module is on. Keyed by mm, not by process: after
   * an execve the process has a fresh mm, and a vCPU it creates then must hear of that one.
   */
  private readonly notifying = new WeakSet<Process['mm']>();
  private readonly sv: Float64Array;
  private readonly sEptFills: number;
  private readonly sEptInvalidations: number;
  private readonly sLeaves: number;
  private readonly sEptLarge: number;
  private readonly sVcpusCreated: number;
  private readonly sVcpusFreed: number;
  private readonly sVcpuMigrations: number;

  constructor(readonly kernel: Kernel, private readonly opts: DuneModuleOptions = {}) {
    const m = kernel.machine;
    this.layout = new DuneLayout(opts.window ?? 4 * GIB, STACK_TOP, m.physBits);
    this.sv = m.stats.v;
    this.sEptFills = m.stats.counter('dune.eptFills', 'count', 'EPT entries filled on EPT violations');
    this.sEptInvalidations = m.stats.counter('dune.eptInvalidations', 'count', 'EPT entries dropped by MMU notifications');
    this.sLeaves = m.stats.counter('dune.leaves', 'count', 'DUNE_ENTER ioctls returning (DUNE_RET_*)');
    this.sEptLarge = m.stats.counter('dune.eptLargeLeaves', 'count', '2 MiB EPT leaves written (host page a 2 MiB page)');
    this.sVcpusCreated = m.stats.counter('dune.vcpusCreated', 'count', 'vCPUs created (VMCS, VPID, EPT) by a thread\'s first DUNE_ENTER');
    this.sVcpusFreed = m.stats.counter('dune.vcpusFreed', 'count', 'vCPUs freed when their thread exited or exec\'d');
    this.sVcpuMigrations = m.stats.counter('dune.vcpuMigrations', 'count', 'vCPUs that entered their guest on another CPU than last time (VMCLEAR there, INVVPID and INVEPT here, VMLAUNCH)');
    // MSR bitmap: every MSR intercepted except FS_BASE and GS_BASE (kern/vmx.c).
    this.msrBitmap = m.frames.alloc();
    m.mem.u8.fill(0xff, this.msrBitmap, this.msrBitmap + PAGE_SIZE);
    for (const msr of [MSR_FS_BASE, MSR_GS_BASE]) {
      const bit = msr - 0xc000_0000;
      for (const base of [1024, 3072]) {
        const a = this.msrBitmap + base + (bit >>> 3);
        m.mem.write8(a, m.mem.read8(a) & ~(1 << (bit & 7)));
      }
    }
    this.exitHandler = kernel.boot.native('vmx_handle_exit', (cpu) => this.onVmExit(cpu), 0);
    // VMXON on every CPU (vmx_init: requires CR4.VMXE, fails if another hypervisor holds VT-x).
    for (const cpu of m.cpus) {
      cpu.cr4 |= CR4_VMXE;
      const region = m.frames.alloc();
      m.mem.write32(region, VMCS_REVISION_ID);
      cpu.vmx.vmxon(region);
      this.vmxonRegions.set(cpu.index, region);
    }
    kernel.devices.set('/dev/dune', () => ({
      kind: 'dune',
      ioctl: (task: Task, request: number, arg: number): number => this.ioctl(task, request, arg) as number,
    }));
  }

  // -----------------------------------------------------------------------------------------
  // ioctl.

  private ioctl(task: Task, request: number, arg: number): number | typeof BLOCKED {
    const cpu = this.kernel.cpuOf(task);
    switch (request) {
      case DUNE_GET_SYSCALL:
        return this.kernel.syscallEntry;
      case DUNE_GET_LAYOUT: {
        const b = new Uint8Array(24);
        const dv = new DataView(b.buffer);
        const put = (o: number, v: number): void => {
          dv.setUint32(o, v >>> 0, true);
          dv.setUint32(o + 4, Math.floor(v / TWO_32) >>> 0, true);
        };
        put(0, this.layout.physLimit);
        put(8, this.layout.baseMap);
        put(16, this.layout.baseStack);
        return this.kernel.copyToUser(cpu, task, arg, b) ? 0 : -EFAULT;
      }
      case DUNE_ENTER:
        return this.enter(cpu, task, arg);
      default:
        return -ENOTTY;
    }
  }

  /** DUNE_ENTER: create (or reuse) the thread's vCPU and VMLAUNCH into guest ring 0. */
  private enter(cpu: Cpu, task: Task, confVa: number): number | typeof BLOCKED {
    const k = this.kernel;
    const conf = k.copyFromUser(cpu, task, confVa, DUNE_CONFIG_SIZE);
    if (conf === undefined) return -EFAULT;
    const dv = new DataView(conf.buffer);
    const get = (o: number): number => (dv.getUint32(o + 4, true) | 0) * TWO_32 + dv.getUint32(o, true);
    let v = task.dune as DuneVcpu | undefined;
    if (v === undefined) {
      v = this.createVcpu(task);
      task.dune = v;
    }
    v.confVa = confVa;
    v.hostRegs.copyFrom(task.regs);
    v.hostRegs.set(RAX, 0);
    // The guest starts with the registers of the config (libdune's __dune_enter saved them).
    const r = task.regs;
    const names = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
    const gpr = [RAX, 3, RCX, RDX, RSI, RDI, 4, 5, R8, R9, R10, 11, 12, 13, 14, 15];
    names.forEach((n, i) => r.set(gpr[i]!, get(DUNE_CFG[n])));
    const vmx = cpu.vmx;
    this.getCpu(cpu, v);
    const w = (f: F, x: number): void => vmx.vmwrite(f, x);
    w(F.GUEST_RIP, get(DUNE_CFG.rip));
    w(F.GUEST_RSP, get(DUNE_CFG.rsp));
    w(F.GUEST_RFLAGS, get(DUNE_CFG.rflags) | 0x2);
    w(F.GUEST_CR3, get(DUNE_CFG.cr3));
    w(F.GUEST_FS_BASE, task.regs.fsBase);
    w(F.HOST_CR3, task.process.mm.cr3);
    w(F.HOST_RSP, k.kernelStackTop(cpu));
    task.returnHook = (c) => this.resumeGuest(c, task);
    r.loadInto(cpu);
    this.vmEntry(cpu, v);
    if (!vmx.nonRoot) {
      task.returnHook = undefined;
      task.regs.copyFrom(v.hostRegs);
      return -EINVAL; // VMfail or failed entry checks
    }
    return BLOCKED;
  }

  private createVcpu(task: Task): DuneVcpu {
    const k = this.kernel;
    const m = k.machine;
    const vmcs = m.frames.alloc();
    m.mem.write32(vmcs, VMCS_REVISION_ID);
    const ept = new PageTables(m.mem, m.frames, true);
    const v = new DuneVcpu(task, vmcs, this.freeVpids.pop() ?? this.nextVpid++, ept);
    this.vcpus.add(v);
    this.sv[this.sVcpusCreated]++;
    task.releaseDune = () => this.destroyVcpu(v);
    const cpu = k.cpuOf(task);
    const vmx = cpu.vmx;
    vmx.vmclear(vmcs);
    vmx.vmptrld(vmcs);
    const w = (f: F, x: number): void => vmx.vmwrite(f, x);
    w(F.PIN_BASED_VM_EXEC_CONTROL, PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING);
    // With EPT the CR3-load/store and INVLPG exits are off; HLT exits so the module can yield.
    w(F.CPU_BASED_VM_EXEC_CONTROL, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_USE_MSR_BITMAPS | CPU_HLT_EXITING);
    w(F.SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_ENABLE_RDTSCP | SECONDARY_ENABLE_INVPCID);
    w(F.VIRTUAL_PROCESSOR_ID, v.vpid);
    w(F.EPT_POINTER, ept.root | EPTP_MT_WB | EPTP_WALK_LENGTH_4);
    w(F.MSR_BITMAP, this.msrBitmap);
    // Only #DB and #BP exit (the debugger path); every other exception, #PF included, goes to
    // the guest IDT.
    w(F.EXCEPTION_BITMAP, (1 << Vector.Debug) | (1 << Vector.Breakpoint));
    w(F.VM_EXIT_CONTROLS, EXIT_HOST_ADDR_SPACE_SIZE);
    w(F.VM_ENTRY_CONTROLS, ENTRY_IA32E_MODE);
    // CR0 and CR4 are host-owned: a guest write that changes them exits (and is fatal).
    // FSGSBASE as upstream's vmx_setup_initial_guest_state sets it when the CPU has it (Ivy
    // Bridge does): RDFSBASE and WRFSBASE work in the guest at any ring.
    const gcr0 = CR0_PG | CR0_PE | CR0_WP | CR0_MP | CR0_ET | CR0_NE;
    const gcr4 = CR4_PAE | CR4_VMXE | CR4_OSXMMEXCPT | CR4_PGE | CR4_OSFXSR | CR4_PCIDE | CR4_FSGSBASE | (this.opts.smep === true ? CR4_SMEP : 0);
    w(F.CR0_GUEST_HOST_MASK, 0xffff_ffff);
    w(F.CR4_GUEST_HOST_MASK, 0xffff_ffff);
    w(F.CR0_READ_SHADOW, gcr0 >>> 0);
    w(F.CR4_READ_SHADOW, gcr4);
    w(F.GUEST_CR0, gcr0 >>> 0);
    w(F.GUEST_CR4, gcr4);
    w(F.GUEST_CS_SELECTOR, GD_KT);
    w(F.GUEST_SS_SELECTOR, GD_KD);
    w(F.GUEST_CS_AR_BYTES, 0xa09b);
    w(F.GUEST_SS_AR_BYTES, 0xc093);
    w(F.GUEST_GDTR_LIMIT, 0);
    w(F.GUEST_IDTR_LIMIT, 0);
    // Host state: this kernel, on this CPU.
    writeHostState(w, cpu, this.exitHandler);
    // Keep the EPT coherent with the process's page tables (the MMU-notifier chain). Each vCPU
    // has an EPT of its own, as in ept.c; one notifier per address space reaches all of them.
    const mm = task.process.mm;
    if (!this.notifying.has(mm)) {
      this.notifying.add(mm);
      mm.notifiers.push((start, end) => this.mmuNotify(mm, start, end));
    }
    return v;
  }

  /**
   * vmx_destroy_vcpu: the thread exited or exec'd. Its VMCS is cleared and freed, its VPID goes
   * back to the pool (with INVVPID, so that a later owner finds no stale translation), and its
   * EPT's tables are freed (the host pages they map belong to the process, not to the EPT).
   */
  private destroyVcpu(v: DuneVcpu): void {
    if (!this.vcpus.delete(v)) return;
    const t = v.task;
    const m = this.kernel.machine;
    for (const cpu of m.cpus) {
      if (cpu.vmx.current?.pa === v.vmcs && !cpu.vmx.nonRoot) cpu.vmx.vmclear(v.vmcs);
      // INVVPID, and INVEPT for the EPT (vmx_destroy_vcpu's ept_sync_context): its table frames
      // go back to the allocator, and a new EPT built in them must not meet cached entries.
      cpu.mmu.flushVpid(v.vpid);
      cpu.mmu.flushAllEpt();
    }
    m.frames.put(v.vmcs);
    this.freeEptTables(v.ept.root, 4);
    this.freeVpids.push(v.vpid);
    this.sv[this.sVcpusFreed]++;
    if (t.dune === v) {
      t.dune = undefined;
      t.returnHook = undefined;
    }
    t.releaseDune = undefined;
  }

  private freeEptTables(table: number, level: number): void {
    const mem = this.kernel.machine.mem;
    if (level > 1) {
      for (let i = 0; i < 512; i++) {
        const lo = mem.read32(table + i * 8);
        if ((lo & 7) !== 0 && (lo & EPT_PS) === 0) this.freeEptTables(PageTables.entryFrame(lo, mem.read32(table + i * 8 + 4)), level - 1);
      }
    }
    this.kernel.machine.frames.put(table);
  }

  // -----------------------------------------------------------------------------------------
  // The exit handler (vmx_launch's loop body) and re-entry.

  private onVmExit(cpu: Cpu): void {
    const k = this.kernel;
    const t = k.current[cpu.index];
    const v = t?.dune as DuneVcpu | undefined;
    if (t === undefined || v === undefined) throw new Error(`dune: VM exit on cpu${cpu.index} without a vCPU`);
    const vmx = cpu.vmx;
    t.regs.saveFrom(cpu); // the guest's GPRs (a VM exit leaves them in the registers)
    const reason = vmx.vmread(F.VM_EXIT_REASON) & 0xffff;
    const len = vmx.vmread(F.VM_EXIT_INSTRUCTION_LEN);
    const rip = vmx.vmread(F.GUEST_RIP);
    // RSP, RIP and RFLAGS are in the VMCS (the exit loaded the host's RSP): the task's pt_regs
    // take the guest's, as the pt_regs vmx.c builds for fork/clone do; FS/GS are the thread's.
    t.regs.set(RSP, vmx.vmread(F.GUEST_RSP));
    t.regs.rip = rip;
    t.regs.rflags = vmx.vmread(F.GUEST_RFLAGS);
    t.regs.fsBase = v.hostRegs.fsBase;
    t.regs.gsBase = v.hostRegs.gsBase;
    if (this.opts.exitHandlers !== undefined && this.opts.exitHandlers.length > 0 && this.pluginExit(cpu, t, reason, rip, len)) {
      k.returnToUser(cpu, t);
      return;
    }
    switch (reason) {
      case VmExitReason.Vmcall: {
        const r = t.regs;
        const nr = r.get(RAX);
        // VMCALL exits at any CPL, but only the Dune process's ring 0 (libDune, a sandbox's
        // runtime) may make system calls with it: from ring 3 — untrusted code — it would bypass
        // every check the ring-0 runtime makes. Not a system call, then (KVM likewise refuses
        // hypercalls from CPL > 0): the process leaves Dune with the RIP of the VMCALL, and
        // libDune's on_dune_exit ends it.
        if ((vmx.vmread(F.GUEST_CS_SELECTOR) & 3) !== 0) {
          k.console(2, new TextEncoder().encode(`dune: VMCALL from guest ring 3 at rip 0x${rip.toString(16)} (rax ${nr}) refused: not a system call\n`));
          return this.leave(cpu, t, DuneRet.UnhandledVmexit, VmExitReason.Vmcall);
        }
        vmx.vmwrite(F.GUEST_RIP, rip + len);
        v.vmcallRip = rip;
        // A VMCALL instruction, or the LSTAR trampoline (a kernel address, made again whole):
        // stepping back makes the call again. A ring-0 native whose last act is a VMCALL would
        // run its whole body again instead, so its interrupted calls fail with -EINTR.
        v.vmcallRestartable = len === VMCALL_LENGTH || rip < 0 || rip >= TASK_SIZE;
        if (nr === NR.exit || nr === NR.exit_group) return this.leave(cpu, t, DuneRet.Exit, r.get(RDI));
        let result: number | typeof BLOCKED;
        if (nr < 0 || nr > DUNE_NUM_SYSCALLS || DUNE_UNSUPPORTED_SYSCALLS.has(nr)) {
          result = -EINVAL;
        } else {
          cpu.cycles += k.costs.syscallPath;
          r.origRax = nr;
          r.rip = rip + len;
          // fork/vfork/clone through the LSTAR trampoline (a kernel-address RIP): the child
          // resumes at RCX, the return address of the guest's SYSCALL (vmx.c's convention).
          if ((nr === NR.fork || nr === NR.vfork || nr === NR.clone) && (r.rip < 0 || r.rip >= TASK_SIZE)) r.rip = r.get(RCX);
          result = k.dispatch(cpu, t, nr, r);
        }
        if (result !== BLOCKED) t.regs.set(RAX, result);
        // arch_prctl changes the thread's FS/GS base; inside Dune that is the guest's, kept in
        // the VMCS (the host's own is restored on every exit).
        // It is also the host thread's (do_arch_prctl wrote the thread's fsbase), so the next exit
        // must not put the old one back: a child forked later starts outside Dune with it, and
        // its TLS (%fs:0) works as it does after a fork from a plain process.
        if (nr === NR.arch_prctl && result === 0) {
          const code = r.get(RDI);
          if (code === ARCH_SET_FS) {
            vmx.vmwrite(F.GUEST_FS_BASE, t.regs.fsBase);
            v.hostRegs.fsBase = t.regs.fsBase;
          }
          if (code === ARCH_SET_GS) {
            vmx.vmwrite(F.GUEST_GS_BASE, t.regs.gsBase);
            v.hostRegs.gsBase = t.regs.gsBase;
          }
        }
        break;
      }
      case VmExitReason.EptViolation: {
        const gpa = vmx.vmread(F.GUEST_PHYSICAL_ADDRESS);
        const qual = vmx.vmread(F.EXIT_QUALIFICATION);
        if (!this.eptFault(cpu, t, v, gpa, qual)) return this.leave(cpu, t, DuneRet.EptViolation, gpa);
        break;
      }
      case VmExitReason.Cpuid: {
        // Passthrough: the host's CPUID for the guest's EAX/ECX.
        vmx.vmwrite(F.GUEST_RIP, rip + len);
        t.regs.loadInto(cpu);
        cpu.cpuid();
        t.regs.saveFrom(cpu);
        break;
      }
      case VmExitReason.Hlt:
        vmx.vmwrite(F.GUEST_RIP, rip + len);
        k.enqueue(t); // yield the CPU
        break;
      case VmExitReason.ExternalInterrupt:
        // The host's handler runs for it (the tick's accounting, a TLB-flush IPI's flush).
        k.onHostInterrupt(cpu, vmx.vmread(F.VM_EXIT_INTR_INFO) & 0xff);
        break;
      case VmExitReason.ExceptionOrNmi: {
        const info = vmx.vmread(F.VM_EXIT_INTR_INFO);
        return this.leave(cpu, t, DuneRet.Interrupt, info & 0xff);
      }
      default:
        return this.leave(cpu, t, DuneRet.UnhandledVmexit, reason);
    }
    k.returnToUser(cpu, t);
  }

  /** Asks the plugins' handlers for `reason` in order; true when one handled the exit. */
  private pluginExit(cpu: Cpu, t: Task, reason: number, rip: number, len: number): boolean {
    const vmx = cpu.vmx;
    let info: VmExitInfo | undefined;
    for (const h of this.opts.exitHandlers!) {
      if (!h.reasons.includes(reason)) continue;
      info ??= {
        reason, rip, instructionLength: len, regs: t.regs, task: t, cpu,
        qualification: vmx.vmread(F.EXIT_QUALIFICATION),
        guestPhysicalAddress: reason === VmExitReason.EptViolation || reason === VmExitReason.EptMisconfig ? vmx.vmread(F.GUEST_PHYSICAL_ADDRESS) : 0,
        guestCpl: vmx.vmread(F.GUEST_CS_SELECTOR) & 3,
        skipInstruction: () => {
          vmx.vmwrite(F.GUEST_RIP, rip + len);
          t.regs.rip = rip + len;
        },
      };
      if (h.handle(info)) return true;
    }
    return false;
  }

  /** The task's way back into its guest (Kernel.returnToUser calls it instead of SYSRET). */
  private resumeGuest(cpu: Cpu, t: Task): boolean {
    const v = t.dune as DuneVcpu;
    this.getCpu(cpu, v);
    const pending = nextSignalNumber(t);
    // A VMCALL'd call that a signal interrupted (vmx_handle_syscall's restart): the guest makes
    // it again — RAX takes the number back, RIP steps back over the 3-byte VMCALL — unless the
    // signal runs a handler that makes it fail, by Linux's rule (handle_signal: -ERESTARTSYS
    // without SA_RESTART, and -ERESTARTNOHAND, become -EINTR). The real module always restarts
    // ("as if no handler ran"), so a read a handler interrupted would never return EINTR; the
    // decision needs the signal's action, which this kernel knows when the guest would resume.
    if (t.regs.origRax >= 0) {
      const ax = t.regs.get(RAX);
      if (isRestartCode(ax)) {
        const act = pending === undefined ? undefined : t.process.actions[pending]!;
        const handler = act !== undefined && act.handler !== SIG_DFL && act.handler !== SIG_IGN;
        const intr = handler && (ax === -ERESTARTNOHAND || ax === -ERESTART_RESTARTBLOCK || (ax === -ERESTARTSYS && (act!.flags & SA_RESTART) === 0));
        if (intr || !v.vmcallRestartable) t.regs.set(RAX, -EINTR);
        else {
          t.regs.set(RAX, t.regs.origRax); // as the kernel's own restart (signals.ts), restart_syscall included
          cpu.vmx.vmwrite(F.GUEST_RIP, v.vmcallRip);
        }
      }
      t.regs.origRax = -1;
    }
    // A pending signal leaves Dune: the host-mode handler runs and libDune re-enters.
    if (pending !== undefined) {
      this.leave(cpu, t, DuneRet.Signal, pending, false);
      return false;
    }
    t.regs.loadInto(cpu);
    this.vmEntry(cpu, v);
    return cpu.vmx.nonRoot;
  }

  /**
   * vmx_get_cpu: makes the vCPU's VMCS current on `cpu`. Another vCPU may have run here meanwhile
   * (VMPTRLD again). A thread that moved to another CPU since it last entered its guest takes its
   * vCPU along: the VMCS is cleared, this CPU drops whatever its TLB
   * still holds under the vCPU's VPID and EPT from an earlier visit (vpid_sync_context,
   * ept_sync_context: the guest's page tables and the EPT may have changed since, invalidated only
   * where the vCPU ran), the host state names this CPU's stack, and the next entry is a VMLAUNCH.
   */
  private getCpu(cpu: Cpu, v: DuneVcpu): void {
    const vmx = cpu.vmx;
    if (v.cpu === cpu.index || v.cpu < 0) {
      v.cpu = cpu.index;
      if (vmx.current?.pa !== v.vmcs) vmx.vmptrld(v.vmcs);
      return;
    }
    // Dune has the old CPU VMCLEAR it (an IPI): the launch state lives in the VMCS region here, so
    // clearing it from this CPU has the same effect, and the old CPU loads a VMCS again (getCpu)
    // before it next reads one.
    vmx.vmclear(v.vmcs);
    v.launched = false;
    vmx.vmptrld(v.vmcs);
    vmx.invvpid(1, v.vpid, 0);
    vmx.invept(1, vmx.vmread(F.EPT_POINTER));
    vmx.vmwrite(F.HOST_RSP, this.kernel.kernelStackTop(cpu));
    v.cpu = cpu.index;
    this.sv[this.sVcpuMigrations]++;
  }

  /** VMLAUNCH the first time after a VMCLEAR, VMRESUME after that (vmx_run_vcpu's choice). */
  private vmEntry(cpu: Cpu, v: DuneVcpu): void {
    if (!v.launched) {
      v.launched = true;
      cpu.vmx.vmlaunch();
    } else {
      cpu.vmx.vmresume();
    }
  }

  /**
   * Ends DUNE_ENTER with an outcome: the guest registers go into dune_config, and the thread
   * returns from the ioctl (RAX = 0) in Linux mode.
   */
  private leave(cpu: Cpu, t: Task, ret: DuneRet, status: number, returnNow = true): void {
    const k = this.kernel;
    const v = t.dune as DuneVcpu;
    const vmx = cpu.vmx;
    this.sv[this.sLeaves]++;
    const b = new Uint8Array(DUNE_CONFIG_SIZE);
    const dv = new DataView(b.buffer);
    const put = (o: number, x: number): void => {
      dv.setUint32(o, x >>> 0, true);
      dv.setUint32(o + 4, Math.floor(x / TWO_32) >>> 0, true);
    };
    const r = t.regs;
    put(DUNE_CFG.ret, ret);
    put(DUNE_CFG.status, status);
    put(DUNE_CFG.rax, r.get(RAX));
    put(DUNE_CFG.rbx, r.get(3));
    put(DUNE_CFG.rcx, r.get(RCX));
    put(DUNE_CFG.rdx, r.get(RDX));
    put(DUNE_CFG.rsi, r.get(RSI));
    put(DUNE_CFG.rdi, r.get(RDI));
    put(DUNE_CFG.rbp, r.get(5));
    for (let i = 8; i < 16; i++) put(DUNE_CFG.r8 + (i - 8) * 8, r.get(i));
    put(DUNE_CFG.rsp, vmx.vmread(F.GUEST_RSP));
    put(DUNE_CFG.rip, vmx.vmread(F.GUEST_RIP));
    put(DUNE_CFG.rflags, vmx.vmread(F.GUEST_RFLAGS));
    put(DUNE_CFG.cr3, vmx.vmread(F.GUEST_CR3));
    put(DUNE_CFG.vcpu, v.vpid);
    t.returnHook = undefined;
    t.regs.copyFrom(v.hostRegs);
    k.accessProcessVm(t.process, v.confVa, DUNE_CONFIG_SIZE, b);
    // exit and exit_group end the vCPU (vcpu->shutdown); libDune then exits in Linux mode.
    if (ret === DuneRet.Exit) this.destroyVcpu(v);
    if (cpu.tracer.enabled) cpu.tracer.instant('dune', `leave ${DuneRet[ret]}`, cpu.index, cpu.cycles, { status });
    if (returnNow) k.returnToUser(cpu, t);
  }

  // -----------------------------------------------------------------------------------------
  // EPT.

  /**
   * vmx_handle_ept_violation → vmx_do_ept_fault → ept_set_epte (kern/vmx.c, kern/ept.c): the
   * guest-physical address back to a host-virtual one, the host page pinned with
   * get_user_pages_fast (which falls back to get_user_pages, and faults the page in, when the
   * host PTE is not there yet), and an EPT leaf R|X (+W for a write to a writable host page)
   * installed under the vCPU's ept_lock. A not-present EPT entry is never cached by the
   * processor (SDM Vol. 3C §29.4.3.1: no translation is cached for an access that causes an
   * EPT violation), so filling one needs no INVEPT, and upstream issues none.
   *
   * What it costs, each part charged as it happens: the module's own code (`duneEptFaultPath`,
   * its instructions counted from the source), the memory references of gup_fast's walk of the
   * host page table (`walkRef` each: the host tables are not touched by the guest's hardware
   * walks, so their lines come from L2/L3 like a walk's; the walks that follow hit the lines
   * just read), the locked read-modify-writes on the way (`lockedRmw`), the slow path's VMA
   * lookup (`pageFaultPath`) and handle_mm_fault (`pageAllocPath`, in faultIn), and a zeroed
   * page (`pageAllocPath`) for each EPT table ept_lookup_gpa has to create.
   */
  private eptFault(cpu: Cpu, t: Task, v: DuneVcpu, gpa: number, qual: number): boolean {
    const k = this.kernel;
    const c = k.costs;
    const hva = this.layout.gpaToHva(gpa);
    if (hva < 0) return false;
    const write = (qual & EPT_QUAL_WRITE) !== 0;
    const mm = t.process.mm;
    const page = hva - (hva % PAGE_SIZE);
    // get_user_pages_fast: the lockless walk, then get_page on the page (one locked increment).
    cpu.cycles += mm.pt.walkRefs(page) * c.walkRef;
    let locked = 1;
    // The host leaf: a PTE, or a 2 MiB PDE (core/linux/huge-pages.ts).
    let pte = mm.frameAt(page);
    if (pte === undefined || (pte.lo & PTE_P) === 0 || (write && (pte.lo & PTE_W) === 0)) {
      // The slow path: down_read/up_read of mmap_sem, find_vma and the checks, follow_page
      // (which takes the PTE lock) before and after handle_mm_fault.
      locked += 4;
      cpu.cycles += c.pageFaultPath + GUP_SLOW_PATH_INSTRUCTIONS * c.instruction;
      if (k.faultIn(cpu, mm, page, write, (qual & EPT_QUAL_FETCH) !== 0, pte !== undefined) !== 0) return false;
      pte = mm.frameAt(page);
      if (pte === undefined || (pte.lo & PTE_P) === 0) return false;
    }
    locked++; // spin_lock(&vcpu->ept_lock); the ticket unlock is a plain store
    cpu.cycles += c.duneEptFaultPath + locked * c.lockedRmw;
    const perm = EPT_R | EPT_X | (write && (pte.lo & PTE_W) !== 0 ? EPT_W : 0);
    const tablesBefore = v.ept.tables;
    // The EPT level follows the host page size (ept.c's ept_set_epte): a 2 MiB host page whose
    // guest-physical 2 MiB block is the same host block gets one 2 MiB EPT leaf (SDM Vol. 3C
    // §29.3.2, Table 29-4: an EPT PDE with bit 7 set maps a 2 MiB page).
    const gblock = gpa - (gpa % LARGE_PAGE_SIZE);
    const hblock = hva - (hva % LARGE_PAGE_SIZE);
    if (pte.huge && this.layout.gpaToHva(gblock) === hblock && this.layout.gpaToHva(gblock + LARGE_PAGE_SIZE - 1) === hblock + LARGE_PAGE_SIZE - 1) {
      this.mapLargeEpt(cpu, v, gblock, pte.frame - (page - hblock), perm);
    } else {
      v.ept.map(gpa - (gpa % PAGE_SIZE), pte.frame, eptLeafFlags(perm));
    }
    // ept_lookup_gpa(create): __get_free_page + memset for each missing EPT table.
    if (v.ept.tables > tablesBefore) cpu.cycles += (v.ept.tables - tablesBefore) * c.pageAllocPath;
    this.sv[this.sEptFills]++;
    return true;
  }

  /**
   * Writes a 2 MiB EPT leaf, replacing a smaller mapping if one is there (ept.c's
   * ept_clear_l1_epte: the page table of 4 KiB leaves under the PDE is freed), then INVEPT, since
   * the TLB and the EPT paging-structure caches may hold translations through the old table.
   */
  private mapLargeEpt(cpu: Cpu, v: DuneVcpu, gblock: number, frame: number, perm: number): void {
    const mem = this.kernel.machine.mem;
    const pde = v.ept.entryAddress(gblock, 2, true);
    const old = mem.read32(pde);
    const replaced = (old & 7) !== 0 && (old & EPT_PS) === 0;
    mem.write64(pde, ((frame % TWO_32) | eptLeafFlags(perm) | EPT_PS) >>> 0, Math.floor(frame / TWO_32));
    this.sv[this.sEptLarge]++;
    if (replaced) {
      this.kernel.machine.frames.put(PageTables.entryFrame(old, mem.read32(pde + 4)));
      v.ept.tables--;
      cpu.mmu.flushAllEpt();
    }
  }

  /** MMU notifier: drop EPT leaves whose host-virtual page changed in [start, end), in every vCPU on `mm`. */
  private mmuNotify(mm: Process['mm'], start: number, end: number): void {
    const k = this.kernel;
    for (const v of this.vcpus) {
      const t = v.task;
      if (t.process.mm !== mm) continue;
      let dropped = 0;
      if (end - start <= NOTIFY_PAGEWISE_LIMIT) {
        // A small range (a thread's stack, an mprotect): look up each page's leaf, as ept.c's
        // invalidate_range walks the range, instead of the whole EPT of every vCPU.
        for (let page = start - (start % PAGE_SIZE); page < end; page += PAGE_SIZE) {
          const gpa = this.layout.hvaToGpa(page);
          if (gpa < 0) continue;
          const leaf = v.ept.leaf(gpa);
          if (leaf === undefined) continue;
          k.machine.mem.write64(leaf.pa, 0, 0); // a 2 MiB leaf goes for a 4 KiB change too
          dropped++;
        }
      } else {
        this.forEachEptLeaf(v.ept, v.ept.root, 4, 0, (entryPa, gpa, span) => {
          // A leaf goes when any of its bytes' host page changed (a 2 MiB leaf for a 4 KiB change too).
          const hva = this.layout.gpaToHva(gpa);
          if (hva < end && start < hva + span) {
            k.machine.mem.write64(entryPa, 0, 0);
            dropped++;
          }
        });
      }
      if (dropped > 0) {
        this.sv[this.sEptInvalidations] += dropped;
        // INVEPT single-context on the CPU that runs the vCPU (an IPI on a real machine).
        const cpu = k.machine.cpus[t.cpu >= 0 ? t.cpu : 0]!;
        cpu.mmu.flushAllEpt();
      }
    }
  }

  private forEachEptLeaf(ept: PageTables, table: number, level: number, base: number, f: (entryPa: number, gpa: number, span: number) => void): void {
    const mem = this.kernel.machine.mem;
    const span = 2 ** (12 + 9 * (level - 1));
    for (let i = 0; i < 512; i++) {
      const e = table + i * 8;
      const lo = mem.read32(e);
      if ((lo & 7) === 0) continue;
      const gpa = base + i * span;
      if (level === 1 || (lo & 0x80) !== 0) f(e, gpa, span);
      else this.forEachEptLeaf(ept, PageTables.entryFrame(lo, mem.read32(e + 4)), level - 1, gpa, f);
    }
  }

  /** The EPT of a thread (for tests and traces). */
  vcpuOf(t: Task): DuneVcpu | undefined {
    return t.dune as DuneVcpu | undefined;
  }

  /** vCPUs alive now (created and not yet freed). */
  get liveVcpus(): number {
    return this.vcpus.size;
  }

  static exitStatus(code: number): number {
    return exitedStatus(code);
  }
}
