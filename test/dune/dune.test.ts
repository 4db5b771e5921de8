import { describe, it, expect } from 'vitest';
import { Machine } from '../../core/vtx/machine.js';
import { Kernel } from '../../core/linux/kernel.js';
import { NR } from '../../core/linux/linux-abi.js';
import { loadSyscallArgs, result } from '../../core/linux/user-abi.js';
import { DuneModule } from '../../core/dune/dune-module.js';
import { LibDune } from '../../core/dune/libdune.js';
import { RAX } from '../../core/vtx/cpu.js';

function setup(): { m: Machine; k: Kernel; dune: DuneModule } {
  const m = new Machine({ memory: 256 << 20 });
  const k = new Kernel(m);
  const dune = new DuneModule(k);
  return { m, k, dune };
}

describe('Dune module and libDune', () => {
  it('enters Dune, makes system calls with VMCALL, and exits with DUNE_RET_EXIT', () => {
    const { m, k } = setup();
    let pid = -1;
    let lib!: LibDune;
    const p = k.spawn('dune-hello', (c, proc) => {
      lib = new LibDune(k, proc);
      c.op('start', (cpu) => lib.init(cpu, true), 1);
      lib.emitEnter(c, 'enter', 'inside');
      c.op('inside', (cpu) => {
        loadSyscallArgs(cpu, NR.getpid);
        cpu.vmcall();
      }, 2);
      c.op(undefined, (cpu) => {
        pid = result(cpu);
        loadSyscallArgs(cpu, NR.exit_group, 5);
        cpu.vmcall();
      }, 2);
      return 'start';
    });
    k.start();
    k.run(1e10);
    expect(pid).toBe(p.pid);
    expect(p.zombie).toBe(true);
    expect(p.waitStatus).toBe(5 << 8);
    expect(m.stats.get('cpu0.vmx.exits.Vmcall')).toBe(2);
    expect(m.stats.get('cpu0.vmx.exits.EptViolation')).toBeGreaterThan(0);
    void RAX;
  });
});
