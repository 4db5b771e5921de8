/**
 * The timer tick (the local APIC timer, LOCAL_TIMER_VECTOR 0xec): an interrupt in ring 3 enters
 * the kernel, whose way back to user mode delivers pending signals (arch/x86/entry: exit to user
 * mode runs do_signal). So a task that never makes a system call can still be killed.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { Machine } from '../../core/vtx/machine.js';
import { installInterpreter } from '../../core/vtx/interp/interpreter.js';
import { Kernel, queueSignalToProcess } from '../../core/linux/kernel.js';
import { ElfFile } from '../../core/linux/elf/elf-file.js';
import { LOCAL_TIMER_VECTOR, SIGKILL } from '../../core/linux/linux-abi.js';
import { HELLO, patched } from '../sandbox/hostile.js';

describe.runIf(existsSync(HELLO))('the timer tick', () => {
  function spinner(): { k: Kernel; m: Machine; p: ReturnType<Kernel['spawnElf']> } {
    const m = new Machine({ memory: 64 << 20, profile: 'dune-e3-1230v2', cpus: 1 });
    installInterpreter(m);
    const k = new Kernel(m);
    k.console = () => {};
    const path = patched([0xeb, 0xfe]); // jmp $
    const p = k.spawnElf('spin', ElfFile.parse(new Uint8Array(readFileSync(path))), ['spin'], []);
    k.start();
    k.run(m.cpus[0]!.cycles + 1_000_000);
    return { k, m, p };
  }

  it('a SIGKILL queued for a task spinning in ring 3 waits: without a tick nothing enters the kernel', () => {
    const { k, m, p } = spinner();
    queueSignalToProcess(k, p, SIGKILL, 0);
    k.run(m.cpus[0]!.cycles + 1_000_000);
    expect(p.zombie).toBe(false);
    expect(m.stats.get('linux.timerTicks')).toBe(0);
  });

  it('a tick enters apic_timer_interrupt from ring 3 and the way back delivers the SIGKILL', () => {
    const { k, m, p } = spinner();
    queueSignalToProcess(k, p, SIGKILL, 0);
    m.cpus[0]!.interrupt(LOCAL_TIMER_VECTOR);
    k.run(m.cpus[0]!.cycles + 1_000_000);
    expect(p.zombie).toBe(true);
    expect(p.waitStatus & 0x7f).toBe(SIGKILL);
    expect(m.stats.get('linux.timerTicks')).toBe(1);
  });

  it('a tick with nothing pending returns to the same instruction: the task spins on', () => {
    const { k, m, p } = spinner();
    const cpu = m.cpus[0]!;
    cpu.interrupt(LOCAL_TIMER_VECTOR);
    k.run(cpu.cycles + 100_000);
    expect(m.stats.get('linux.timerTicks')).toBe(1);
    expect(p.zombie).toBe(false);
    expect(cpu.cpl).toBe(3);
    const rip = cpu.rip;
    k.run(cpu.cycles + 100_000);
    expect(cpu.rip).toBe(rip);
  });
});
