import { Cpu, GPR_NAMES } from '../vtx/cpu.js';
import { Machine } from '../vtx/machine.js';
import { AccessKind } from '../vtx/tlb.js';

/**
 * The exit status of a run that dunesim itself could not finish: EX_SOFTWARE of sysexits.h
 * ("an internal software error"). A guest can end in any way it likes — a signal, an exit
 * status — but never with this one: it always means a bug in the model.
 */
export const EXIT_INTERNAL_ERROR = 70;

const hex = (lo: number, hi: number): string => `0x${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`;

/** Up to 15 bytes at a CPU's RIP, read through its own translation, or why they cannot be read. */
function instructionBytes(cpu: Cpu): string {
  const out: string[] = [];
  try {
    for (let i = 0; i < 15; i++) {
      const pa = cpu.mmu.translateAs(cpu.rip + i, AccessKind.Execute, cpu.cpl === 3);
      out.push(cpu.mmu.mem.u8[pa]!.toString(16).padStart(2, '0'));
    }
  } catch {
    out.push(out.length === 0 ? '(not readable)' : '…');
  }
  return out.join(' ');
}

/**
 * What dunesim reports when a run ends in an error of its own — an exception of the model, not a
 * fault of the guest: that it is a dunesim bug, the error, and each CPU's state (mode, RIP, CPL,
 * the instruction bytes, the registers), so that the report alone locates the guest instruction
 * that exposed it. The JavaScript stack is added only with DUNESIM_DEBUG set.
 */
export function internalErrorReport(e: unknown, m: Machine, mode: string): string {
  const err = e instanceof Error ? e : new Error(String(e));
  const lines = [`dunesim: internal error (a dunesim bug, not the guest's fault) in --mode ${mode}: ${err.name}: ${err.message}`];
  for (const cpu of m.cpus) {
    const where = cpu.vmx.nonRoot ? 'VMX non-root (guest)' : 'VMX root (host)';
    lines.push(`  cpu${cpu.index}: ${where}, CPL ${cpu.cpl}, rip ${hex(cpu.rip >>> 0, Math.floor(cpu.rip / 0x1_0000_0000) >>> 0)}, rflags 0x${cpu.rflags.toString(16)}, cr2 0x${cpu.cr2.toString(16)}, cr3 0x${cpu.cr3.toString(16)}, ${cpu.halted ? 'halted' : 'running'}, ${cpu.instructions} instructions`);
    lines.push(`    bytes at rip: ${instructionBytes(cpu)}`);
    const regs: string[] = [];
    for (let i = 0; i < 16; i++) regs.push(`${GPR_NAMES[i]!.padStart(3)} ${hex(cpu.lo[i]!, cpu.hi[i]!)}`);
    for (let i = 0; i < 16; i += 4) lines.push(`    ${regs.slice(i, i + 4).join('  ')}`);
  }
  if (process.env['DUNESIM_DEBUG'] !== undefined && err.stack !== undefined) lines.push(err.stack);
  lines.push('  Please report it with the command line and the binary.');
  return lines.join('\n') + '\n';
}
