/**
 * Guest ring 3 and the SYSCALL trampoline (Dune §3.3, libdune/dune.S and the reference's §1.2,
 * §1.6): dune_jump_to_user / dune_ret_from_user, a ring-3 SYSCALL reaching the registered
 * handler in ring 0 with a dune_tf and no VM exit, dune_passthrough_syscall as one VMCALL, a
 * ring-3 #PF on a supervisor page; and a ring-0 SYSCALL turned into a VMCALL by __dune_syscall.
 */
import { describe, it, expect } from 'vitest';
import { FEC_P, FEC_U } from '../../core/vtx/arch.js';
import { Cpu, R8, R9, R10, R12, RAX, RCX, RDI, RDX, RSI } from '../../core/vtx/cpu.js';
import { EFAULT, NR } from '../../core/linux/linux-abi.js';
import { loadSyscallArgs, syscall } from '../../core/linux/user-abi.js';
import { LibDune, PAGEBASE, TF } from '../../core/dune/libdune.js';
import { SCRATCH, STUB, duneProcess, rax, rig } from './helpers.js';

const vmcall = (cpu: Cpu, nr: number, ...args: number[]): void => {
  loadSyscallArgs(cpu, nr, ...args);
  cpu.vmcall();
};

const ARGS: Array<[number, number]> = [[RDI, 0x1111], [RSI, 0x2222], [RDX, 0x3333], [R10, 0x4444], [R8, 0x5555], [R9, 0x6666]];

describe('Dune: guest ring 3', () => {
  it('a SYSCALL in ring 3 reaches the syscall handler in ring 0 with the dune_tf (r10 in the rcx slot, rip = return address) and no VM exit; passthrough is one VMCALL; retFromUser returns to ring 0 with the value', () => {
    const r = rig();
    const s: Record<string, number> = {};
    const tfs: Array<Record<string, number>> = [];
    const { p, code } = duneProcess(r, 'ring3', (c, lib) => {
      lib.registerSyscallHandler((cpu, tf) => {
        const g = (o: number): number => lib.tfGet(cpu, tf, o);
        if (g(TF.rax) === 502) return 'done'; // the warm-up call: first touches fill the EPT
        tfs.push({
          cpl: cpu.cpl, exits: r.stat('cpu0.vmx.exits') - s.exits0!, rax: g(TF.rax), rdi: g(TF.rdi), rsi: g(TF.rsi),
          rdx: g(TF.rdx), rcx: g(TF.rcx), r8: g(TF.r8), r9: g(TF.r9), rip: g(TF.rip), rsp: g(TF.rsp), rflags: g(TF.rflags),
        });
        if (g(TF.rax) === 500) {
          lib.tfSet(cpu, tf, TF.rax, 0x77); // handled in ring 0
          return 'done';
        }
        if (g(TF.rax) === 501) {
          lib.retFromUser(cpu, 0x55);
          return 'redirected';
        }
        return 'passthrough';
      });
      c.op('guest', (cpu) => {
        s.g0rsp = cpu.rsp;
        lib.jumpToUser(cpu, c.addr('warmup'), cpu.rsp - 0x10000, c.addr('back'));
      });
      c.op('back', (cpu) => {
        s.ret = rax(cpu);
        s.backCpl = cpu.cpl;
        s.backRsp = cpu.rsp;
        s.backNonRoot = cpu.vmx.nonRoot ? 1 : 0;
        vmcall(cpu, NR.exit_group, 0);
      });
      // Ring 3.
      c.ring(3).op('warmup', (cpu) => {
        cpu.setReg(RAX, 502);
        cpu.syscall();
      });
      c.op('user', (cpu) => {
        s.exits0 = r.stat('cpu0.vmx.exits');
        s.userCpl = cpu.cpl;
        s.userRsp = cpu.rsp;
        for (const [reg, v] of ARGS) cpu.setReg(reg, v);
        cpu.setReg(RAX, 500);
        s.userRflags = cpu.rflags;
        cpu.syscall();
      });
      c.op(undefined, (cpu) => {
        s.done = rax(cpu);
        s.r10 = cpu.reg(R10);
        s.rdi = cpu.reg(RDI);
        s.rcx = cpu.reg(RCX);
        s.cplAfterDone = cpu.cpl;
        s.exitsAfterDone = r.stat('cpu0.vmx.exits') - s.exits0!;
        s.vmcall0 = r.stat('cpu0.vmx.exits.Vmcall');
        syscall(cpu, NR.getpid);
      });
      c.op(undefined, (cpu) => {
        s.pid = rax(cpu);
        s.cplAfterPassthrough = cpu.cpl;
        s.passthroughVmcalls = r.stat('cpu0.vmx.exits.Vmcall') - s.vmcall0!;
        cpu.setReg(RAX, 501);
        cpu.syscall();
      });
      c.op(undefined, () => void (s.fellThrough = 1));
    });
    r.run();
    const user = code.addr('user');
    expect(s.userCpl).toBe(3);
    expect(s.userRsp).toBe(s.g0rsp! - 0x10000);
    expect(tfs[0]).toEqual({
      cpl: 0, exits: 0, rax: 500, rdi: 0x1111, rsi: 0x2222, rdx: 0x3333, rcx: 0x4444, r8: 0x5555, r9: 0x6666,
      rip: user + STUB, rsp: s.userRsp, rflags: s.userRflags,
    });
    expect(s.done).toBe(0x77);
    expect(s.r10).toBe(0x4444); // back from the rcx slot
    expect(s.rdi).toBe(0x1111);
    expect(s.rcx).toBe(user + STUB); // SYSRET's return address
    expect(s.cplAfterDone).toBe(3);
    expect(s.exitsAfterDone).toBe(0);
    expect(tfs[1]!.rax).toBe(NR.getpid);
    expect(tfs[1]!.rip).toBe(user + 2 * STUB);
    expect(s.pid).toBe(p.pid);
    expect(s.cplAfterPassthrough).toBe(3);
    expect(s.passthroughVmcalls).toBe(1);
    expect(tfs.length).toBe(3);
    expect(tfs[2]!.rax).toBe(501);
    expect(s.ret).toBe(0x55);
    expect(s.backCpl).toBe(0);
    expect(s.backNonRoot).toBe(1);
    expect(s.backRsp).toBe(s.g0rsp);
    expect(s.fellThrough).toBeUndefined();
    expect(p.waitStatus).toBe(0);
  });

  it('a ring-3 access to a supervisor page (libDune\'s pool) raises #PF with U set, delivered to the page-fault handler, which can end the user context with retFromUser', () => {
    const r = rig();
    const s: Record<string, number> = {};
    const faults: Array<Record<string, number>> = [];
    const { p, code } = duneProcess(r, 'supervisor', (c, lib) => {
      lib.registerPgfltHandler((cpu, addr, fec, tf) => {
        faults.push({ addr, fec, cpl: cpu.cpl, cs: lib.tfGet(cpu, tf, TF.cs) & 0xffff, rip: lib.tfGet(cpu, tf, TF.rip), exits: r.stat('cpu0.vmx.exits') - s.exits0! });
        lib.retFromUser(cpu, -EFAULT); // what the sandbox does with a fault of untrusted code
      });
      c.op('guest', (cpu) => {
        s.g0rsp = cpu.rsp;
        lib.jumpToUser(cpu, c.addr('user'), cpu.rsp - 0x10000, c.addr('again')); // warm-up round
      });
      c.op('again', (cpu) => {
        s.firstRet = rax(cpu);
        lib.jumpToUser(cpu, c.addr('user'), cpu.rsp - 0x10000, c.addr('back'));
      });
      c.op('back', (cpu) => {
        s.ret = rax(cpu);
        s.cpl = cpu.cpl;
        s.rsp = cpu.rsp;
        s.exits = r.stat('cpu0.vmx.exits') - s.exits0!;
        vmcall(cpu, NR.exit_group, 0);
      });
      c.ring(3).op('user', (cpu) => {
        cpu.mmu.read8(SCRATCH); // user memory: fine
        s.exits0 = r.stat('cpu0.vmx.exits');
      });
      c.op('touch', (cpu) => {
        cpu.mmu.read8(PAGEBASE + 0x10);
        s.readPool = 1;
      });
    });
    r.run();
    const fault = { addr: PAGEBASE + 0x10, fec: FEC_P | FEC_U, cpl: 0, cs: 0x33, rip: code.addr('touch') };
    expect(faults.length).toBe(2);
    expect(faults[0]).toMatchObject(fault);
    expect(faults[1]).toEqual({ ...fault, exits: 0 }); // once warm, #PF from ring 3 never exits
    expect(s.readPool).toBeUndefined();
    expect(s.firstRet).toBe(-EFAULT);
    expect(s.ret).toBe(-EFAULT);
    expect(s.cpl).toBe(0);
    expect(s.rsp).toBe(s.g0rsp);
    expect(p.waitStatus).toBe(0);
  });
});

describe('Dune: VMCALL from guest ring 3', () => {
  it('is not a system call: the module refuses it (the call never runs), the process leaves Dune with UnhandledVmexit and libDune ends it', () => {
    const r = rig();
    const s: Record<string, number> = {};
    const { p, code } = duneProcess(r, 'ring3vmcall', (c, lib) => {
      lib.registerSyscallHandler(() => 'passthrough');
      c.op('guest', (cpu) => lib.jumpToUser(cpu, c.addr('user'), cpu.rsp - 0x10000, c.addr('back')));
      c.op('back', (cpu) => vmcall(cpu, NR.exit_group, 0));
      c.ring(3).op('user', (cpu) => {
        s.vmcalls0 = r.stat('cpu0.vmx.exits.Vmcall');
        s.sys0 = r.stat('linux.syscalls');
        vmcall(cpu, NR.exit_group, 42); // untrusted code trying to reach the kernel directly
      });
      c.op(undefined, () => void (s.resumed = 1));
    });
    r.run();
    expect(r.stat('cpu0.vmx.exits.Vmcall') - s.vmcalls0!).toBe(1);
    expect(r.leaves()).toEqual([['UnhandledVmexit', 18]]);
    expect(s.resumed).toBeUndefined();
    // Only libDune's exit(EXIT_FAILURE) reached the kernel, from host mode.
    expect(r.stat('linux.syscalls') - s.sys0!).toBe(1);
    expect(p.waitStatus).toBe(1 << 8);
    const err = r.out.filter((o) => o.fd === 2).map((o) => o.text).join('');
    expect(err).toBe(`dune: VMCALL from guest ring 3 at rip 0x${code.addr('user').toString(16)} (rax 231) refused: not a system call\ndune: exit due to UnhandledVmexit (status 0x12)\n`);
  });
});

describe('Dune: ring 3 cannot redirect the per-CPU state of the trampoline', () => {
  it('with a GS base ring 3 chose (a page of its own reading in_usermode = 0), a ring-3 SYSCALL still reaches the handler, RFLAGS.IOPL in R11 tells ring 3 from ring 0, and SWAPGS gives ring 3 its GS back', () => {
    const r = rig();
    const s: Record<string, number> = {};
    const { p } = duneProcess(r, 'gsredirect', (c, lib) => {
      lib.registerSyscallHandler((cpu, tf) => {
        if (lib.tfGet(cpu, tf, TF.rax) === NR.exit_group) {
          s.exitSeen = 1;
          lib.retFromUser(cpu, 0);
          return 'redirected';
        }
        s.handled = lib.tfGet(cpu, tf, TF.rax);
        s.handlerGs = cpu.gsBase;
        s.handlerKernelGs = cpu.kernelGsBase;
        s.savedIopl = (lib.tfGet(cpu, tf, TF.rflags) >>> 12) & 3;
        lib.tfSet(cpu, tf, TF.rflags, lib.tfGet(cpu, tf, TF.rflags) & ~0x3000); // a handler that clears IOPL
        lib.tfSet(cpu, tf, TF.rax, 0x77);
        return 'done';
      });
      c.op('guest', (cpu) => {
        s.percpu = cpu.gsBase;
        lib.jumpToUser(cpu, c.addr('user'), cpu.rsp - 0x10000, c.addr('back'));
      });
      c.op('back', (cpu) => vmcall(cpu, NR.exit_group, 0));
      c.ring(3).op('user', (cpu) => {
        s.userGs = cpu.gsBase;
        s.userIopl = (cpu.rflags >>> 12) & 3;
        // What WRGSBASE or a GS load with a crafted descriptor would do: a base ring 3 owns,
        // where "in_usermode" (offset 32) reads 0.
        cpu.mmu.write64(SCRATCH + 32, 0, 0);
        cpu.gsBase = SCRATCH;
        cpu.setReg(RAX, 500);
        cpu.syscall();
      });
      c.op(undefined, (cpu) => {
        s.after = rax(cpu);
        s.cplAfter = cpu.cpl;
        s.gsAfter = cpu.gsBase;
        s.ioplAfter = (cpu.rflags >>> 12) & 3;
        syscall(cpu, NR.exit_group, 3); // through the handler too: not a passthrough
      });
    });
    r.run();
    expect(s.userGs).toBe(0); // SWAPGS on the way to ring 3: not the per-CPU area
    expect(s.userIopl).toBe(1);
    expect(s.handled).toBe(500);
    expect(s.handlerGs).toBe(s.percpu); // SWAPGS on entry, from KERNEL_GS_BASE
    expect(s.handlerKernelGs).toBe(SCRATCH);
    expect(s.savedIopl).toBe(1);
    expect(s.after).toBe(0x77);
    expect(s.cplAfter).toBe(3);
    expect(s.gsAfter).toBe(SCRATCH); // ring 3's own GS base, back
    expect(s.ioplAfter).toBe(1); // the exit path forces the ring-3 mark whatever the frame says
    expect(s.exitSeen).toBe(1);
    expect(p.waitStatus).toBe(0);
  });
});

describe('Dune: SYSCALL in guest ring 0 (the LSTAR trampoline)', () => {
  it('goes through __dune_syscall to one VMCALL and returns to the next instruction; a fork made that way starts the child at RCX in Linux mode, where libDune\'s fork wrapper enters it on a vCPU of its own', () => {
    const r = rig();
    const s: Record<string, number> = {};
    const seen: Record<string, { nonRoot: boolean; cpl: number; rip: number }> = {};
    const STATUS = SCRATCH + 0x200;
    const { p, code } = duneProcess(r, 'g0syscall', (c) => {
      c.op('guest', (cpu) => {
        s.vmcall0 = r.stat('cpu0.vmx.exits.Vmcall');
        s.sys0 = r.stat('cpu0.syscalls');
        syscall(cpu, NR.getpid); // an unmodified libc's system call
      });
      c.op('after_getpid', (cpu) => {
        s.pid = rax(cpu);
        s.vmcalls = r.stat('cpu0.vmx.exits.Vmcall') - s.vmcall0!;
        s.syscalls = r.stat('cpu0.syscalls') - s.sys0!;
        s.cpl = cpu.cpl;
        syscall(cpu, NR.fork);
      });
      c.ring('any').op('after_fork', (cpu) => {
        const who = rax(cpu) === 0 ? 'child' : 'parent';
        seen[who] = { nonRoot: cpu.vmx.nonRoot, cpl: cpu.cpl, rip: cpu.rip };
        if (who === 'child') {
          syscall(cpu, NR.exit_group, 9);
          return;
        }
        cpu.setReg(R12, rax(cpu));
        vmcall(cpu, NR.wait4, rax(cpu), STATUS, 0, 0);
      });
      c.op(undefined, (cpu) => {
        s.waited = rax(cpu) === cpu.reg(R12) ? 1 : 0;
        s.status = cpu.mmu.read32(STATUS);
        vmcall(cpu, NR.exit_group, 0);
      });
    });
    const childStarts: Array<{ rip: number; cpl: number; nonRoot: boolean }> = [];
    const k = r.k;
    const dispatch = k.dispatch.bind(k);
    // The module's clone override: what the child's saved state is when clone returns.
    k.dispatch = (cpu, t, nr, regs) => {
      const res = dispatch(cpu, t, nr, regs);
      if (nr === NR.fork && typeof res === 'number' && res > 0) {
        const c = k.tasks.get(res)!;
        childStarts.push({ rip: c.regs.rip, cpl: 3, nonRoot: c.dune !== undefined });
      }
      return res;
    };
    r.run();
    expect(s.pid).toBe(p.pid);
    expect(s.vmcalls).toBe(1);
    expect(s.syscalls).toBe(1); // the SYSCALL instruction itself, which never left the guest
    expect(s.cpl).toBe(0);
    expect(seen.parent).toEqual({ nonRoot: true, cpl: 0, rip: code.addr('after_fork') });
    // dune-mechanisms §2.5: the child resumes at RCX (the trampoline is at a kernel address),
    // outside Dune; libDune made that RCX its fork wrapper, which enters Dune and goes on at
    // the return address of the parent's SYSCALL.
    const lib = p.libdune as LibDune;
    expect(childStarts).toEqual([{ rip: lib.text.addr('__dune_fork_child'), cpl: 3, nonRoot: false }]);
    expect(seen.child).toEqual({ nonRoot: true, cpl: 0, rip: code.addr('after_fork') });
    // Two threads entered, each on its own vCPU; both are gone with their threads.
    expect(r.stat('dune.vcpusCreated')).toBe(2);
    expect(r.stat('dune.vcpusFreed')).toBe(2);
    expect(r.dune.liveVcpus).toBe(0);
    expect(s.waited).toBe(1);
    expect(s.status).toBe(9 << 8);
    expect(p.waitStatus).toBe(0);
  });
});
