import { describe, it, expect } from 'vitest';
import { Machine } from '../../core/vtx/machine.js';
import { Kernel } from '../../core/linux/kernel.js';
import { NR } from '../../core/linux/linux-abi.js';
import { syscall, result } from '../../core/linux/user-abi.js';
import { RBX } from '../../core/vtx/cpu.js';

function machine(): { m: Machine; k: Kernel } {
  const m = new Machine({ memory: 64 << 20 });
  return { m, k: new Kernel(m) };
}

describe('Linux model: processes and system calls', () => {
  it('runs getpid through SYSCALL and exits with a status', () => {
    const { m, k } = machine();
    let pid = -1;
    const p = k.spawn('getpid', (c) => {
      c.op('start', (cpu) => syscall(cpu, NR.getpid), 2);
      c.op(undefined, (cpu) => {
        pid = result(cpu);
        syscall(cpu, NR.exit_group, 7);
      }, 2);
      return 'start';
    });
    k.start();
    k.run(1e9);
    expect(pid).toBe(p.pid);
    expect(p.zombie).toBe(true);
    expect(p.waitStatus).toBe(7 << 8);
    expect(m.stats.get('linux.syscalls')).toBe(2);
  });

  it('charges a getpid round trip as Dune Table 2 calibrates it (138 cycles with the loop)', () => {
    const { m, k } = machine();
    const N = 1000;
    let t0 = 0;
    let t1 = 0;
    k.spawn('loop', (c) => {
      c.op('start', (cpu) => {
        cpu.setReg(RBX, N);
        t0 = cpu.cycles;
      }, 0);
      // mov $39, %eax; syscall — then dec, cmp, jne: five instructions, as bench_linux.c's loop.
      c.op('loop', (cpu) => syscall(cpu, NR.getpid), 2);
      c.op(undefined, (cpu) => {
        const n = cpu.reg(RBX) - 1;
        cpu.setReg(RBX, n);
        if (n > 0) cpu.jump(c.addr('loop'));
      }, 3);
      c.op(undefined, (cpu) => {
        t1 = cpu.cycles;
        syscall(cpu, NR.exit_group, 0);
      }, 0);
      return 'start';
    });
    k.start();
    k.run(1e9);
    const c = m.costs;
    // SYSCALL + the kernel path + SYSRET + the loop's instructions, and nothing else.
    expect((t1 - t0) / N).toBeCloseTo(c.syscall + c.syscallPath + c.sysret + 5 * c.instruction, 6);
    expect((t1 - t0) / N).toBeCloseTo(138, 0);
  });
});
