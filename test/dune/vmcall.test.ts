/**
 * VMCALL as the Dune system-call path, VM-exit accounting, CPUID passthrough and DUNE_RET_EXIT
 * (Dune §3 and the reference's §2.4–§2.5: vmx_handle_syscall, EXIT_REASON_CPUID, exit/exit_group).
 */
import { describe, it, expect } from 'vitest';
import { Cpu, RAX, RBX, RCX, RDX } from '../../core/vtx/cpu.js';
import { VmExitReason, VmcsField } from '../../core/vtx/vmcs-field.js';
import { cpuidTable } from '../../core/vtx/cpuid.js';
import { EINVAL, NR } from '../../core/linux/linux-abi.js';
import { loadSyscallArgs, syscall } from '../../core/linux/user-abi.js';
import { DuneRet } from '../../core/dune/dune-abi.js';
import { SCRATCH, duneProcess, rax, rig, vendor } from './helpers.js';

const vmcall = (cpu: Cpu, nr: number, a0 = 0, a1 = 0, a2 = 0): void => {
  loadSyscallArgs(cpu, nr, a0, a1, a2);
  cpu.vmcall();
};

describe('Dune: VMCALL is the system call of guest ring 0', () => {
  it('returns the Linux system call result in RAX (getpid is the pid, write(1) reaches the console) and counts one Vmcall exit per call', () => {
    const r = rig();
    const s: Record<string, number> = {};
    const msg = 'hello from guest ring 0\n';
    const { p } = duneProcess(r, 'vmcall', (c) => {
      c.op('guest', (cpu) => {
        s.cpl = cpu.cpl;
        s.nonRoot = cpu.vmx.nonRoot ? 1 : 0;
        s.vmcall0 = r.stat('cpu0.vmx.exits.Vmcall');
        s.exits0 = r.stat('cpu0.vmx.exits');
        s.ept0 = r.stat('cpu0.vmx.exits.EptViolation');
        s.linux0 = r.stat('linux.syscalls');
        vmcall(cpu, NR.getpid);
      });
      c.op(undefined, (cpu) => {
        s.pid = rax(cpu);
        s.vmcall1 = r.stat('cpu0.vmx.exits.Vmcall');
        const bytes = new TextEncoder().encode(msg);
        bytes.forEach((b, i) => cpu.mmu.write8(SCRATCH + i, b)); // guest stores (GVA == HVA)
        vmcall(cpu, NR.write, 1, SCRATCH, bytes.length);
      });
      c.op(undefined, (cpu) => {
        s.written = rax(cpu);
        vmcall(cpu, NR.sigaltstack, 0, 0); // refused by vmx_handle_syscall
      });
      c.op(undefined, (cpu) => {
        s.sigaltstack = rax(cpu);
        vmcall(cpu, NR.iopl, 3); // refused too
      });
      c.op(undefined, (cpu) => {
        s.iopl = rax(cpu);
        vmcall(cpu, 313); // beyond NUM_SYSCALLS (312)
      });
      c.op(undefined, (cpu) => {
        s.beyond = rax(cpu);
        s.vmcallN = r.stat('cpu0.vmx.exits.Vmcall') - s.vmcall0!;
        s.eptN = r.stat('cpu0.vmx.exits.EptViolation') - s.ept0!;
        s.exitsN = r.stat('cpu0.vmx.exits') - s.exits0!;
        s.linuxN = r.stat('linux.syscalls') - s.linux0!;
        vmcall(cpu, NR.exit_group, 0);
      });
    });
    r.run();
    expect(s.cpl).toBe(0);
    expect(s.nonRoot).toBe(1);
    expect(s.pid).toBe(p.pid);
    expect(s.vmcall1! - s.vmcall0!).toBe(1);
    expect(s.written).toBe(msg.length);
    expect(r.out).toEqual([{ fd: 1, text: msg }]);
    expect(s.sigaltstack).toBe(-EINVAL);
    expect(s.iopl).toBe(-EINVAL);
    expect(s.beyond).toBe(-EINVAL);
    // Five VMCALLs; the only other exits are the lazy EPT fills of the pages touched.
    expect(s.vmcallN).toBe(5);
    expect(s.eptN).toBeGreaterThan(0);
    expect(s.exitsN).toBe(s.vmcallN! + s.eptN!);
    // Only getpid and write reached the Linux table; the three refused calls never did.
    expect(s.linuxN).toBe(2);
    expect(p.waitStatus).toBe(0);
  });

  it('exit_group from the guest ends DUNE_ENTER with DUNE_RET_EXIT and the process exits with the guest code', () => {
    const r = rig();
    let after = false;
    const { p, lib } = duneProcess(r, 'exit', (c) => {
      c.op('guest', (cpu) => vmcall(cpu, NR.exit_group, 42));
      c.op(undefined, () => void (after = true)); // never reached
    });
    r.run();
    expect(r.leaves()).toEqual([['Exit', 42]]);
    expect(p.zombie).toBe(true);
    expect(p.waitStatus).toBe(42 << 8);
    expect(after).toBe(false);
    expect(lib.lastExit).toBeUndefined(); // not a fatal outcome: no message
    expect(r.out).toEqual([]);
    expect(r.dune.vcpuOf(p.threads[0]!)).toBeUndefined();
    expect(DuneRet.Exit).toBe(1);
  });

  it('exit (60) from the guest also ends with DUNE_RET_EXIT and its code', () => {
    const r = rig();
    const { p } = duneProcess(r, 'exit60', (c) => {
      c.op('guest', (cpu) => vmcall(cpu, NR.exit, 7));
    });
    r.run();
    expect(r.leaves()).toEqual([['Exit', 7]]);
    expect(p.waitStatus).toBe(7 << 8);
  });
});

describe('Dune: CPUID passthrough', () => {
  it('CPUID in the guest exits with basic reason 10 and returns what CPUID returns on the host', () => {
    const r = rig();
    const guest: number[][] = [];
    const host: number[][] = [];
    const reasons: number[] = [];
    const cpuidExits: number[] = [];
    const regs = (cpu: Cpu): number[] => [RAX, RBX, RCX, RDX].map((i) => cpu.lo[i]!);
    duneProcess(r, 'cpuid', (c) => {
      c.op('guest', (cpu) => {
        cpuidExits.push(r.stat('cpu0.vmx.exits.Cpuid'));
        cpu.setReg(RAX, 0);
        cpu.setReg(RCX, 0);
        cpu.cpuid();
      });
      c.op(undefined, (cpu) => {
        guest.push(regs(cpu));
        reasons.push(cpu.vmx.current!.read(VmcsField.VM_EXIT_REASON)); // what the module read
        cpuidExits.push(r.stat('cpu0.vmx.exits.Cpuid'));
        cpu.setReg(RAX, 0x8000_0008);
        cpu.setReg(RCX, 0);
        cpu.cpuid();
      });
      c.op(undefined, (cpu) => {
        guest.push(regs(cpu));
        reasons.push(cpu.vmx.current!.read(VmcsField.VM_EXIT_REASON));
        cpuidExits.push(r.stat('cpu0.vmx.exits.Cpuid'));
        vmcall(cpu, NR.exit_group, 0);
      });
    });
    // A plain Linux process asks the same leaves natively (ring 3, VMX root: no exit).
    r.k.spawn('host', (c) => {
      c.op('main', (cpu) => {
        cpu.setReg(RAX, 0);
        cpu.cpuid();
      });
      c.op(undefined, (cpu) => {
        host.push(regs(cpu));
        cpu.setReg(RAX, 0x8000_0008);
        cpu.cpuid();
      });
      c.op(undefined, (cpu) => {
        host.push(regs(cpu));
        syscall(cpu, NR.exit_group, 0);
      });
      return 'main';
    });
    r.run();
    expect(VmExitReason.Cpuid).toBe(10);
    expect(reasons).toEqual([10, 10]);
    expect(cpuidExits).toEqual([0, 1, 2]);
    expect(r.stat('cpu0.vmx.exits.Cpuid')).toBe(2); // the Linux process's CPUID did not exit
    expect(guest).toEqual(host);
    const leaf0 = cpuidTable(r.m.physBits).get(0)!;
    expect(guest[0]).toEqual([leaf0.eax, leaf0.ebx, leaf0.ecx, leaf0.edx]);
    expect(vendor(guest[0]![1]!, guest[0]![3]!, guest[0]![2]!)).toBe('GenuineIntel');
    expect(guest[1]![0]! & 0xff).toBe(r.m.physBits); // MAXPHYADDR
  });
});
