import { Vector } from '../vtx/arch.js';
import {
  BUS_ADRALN, FPE_FLTINV, FPE_INTDIV, ILL_ILLOPN, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP,
  SI_KERNEL, TRAP_BRKPT,
} from '../linux/linux-abi.js';
import { Process } from '../linux/task.js';
import { DuneRet } from './dune-abi.js';
import { LibDune, TF } from './libdune.js';

/**
 * What `exec --mode dune` adds to libDune so that an unmodified Linux program keeps the faults
 * Linux gives it. Real libdune's dune_trap_handler dies on any exception without a handler
 * ("unhandled exception", or a fatal dump for NMI/#DF/#GP), and on_dune_exit ends the process on
 * DUNE_RET_EPT_VIOLATION; a program that catches SIGSEGV, or a parent that waits for a child's
 * SIGILL, would see exit status 1 instead. So the launcher registers handlers, through libDune's
 * own API, that raise the signal arch/x86/kernel/traps.c would raise, with its si_code and
 * si_addr — and the module's signal path (DUNE_RET_SIGNAL, host-mode handler, re-entry) delivers
 * it:
 *
 * - guest exceptions (no VM exit: the guest IDT) — a vector handler per exception Linux turns
 *   into a signal (#DE → SIGFPE, #UD → SIGILL, #GP → SIGSEGV, #PF → SIGSEGV, …); NMI, #DF and
 *   #MC keep libdune's fatal path, as they are no program's doing;
 * - an EPT violation the module cannot fill (no host page behind the guest-physical address, or
 *   a write to a read-only one) — in full mode every user address is mapped in the guest page
 *   table, so this is where a bad pointer lands: SIGSEGV at that address, SEGV_MAPERR when no
 *   mapping is there, SEGV_ACCERR when one is (the host's VMAs, which libdune reads from
 *   /proc/self/maps);
 * - #BP/#DB, which exit to the module (DUNE_RET_INTERRUPT, the debugger path): SIGTRAP;
 * - INT n, a software interrupt through libDune's IDT: what Linux gives ring 3 for it.
 *
 * Faults that are Dune's own stay fatal as in real libdune: a privileged instruction whose exit
 * the module does not handle (DUNE_RET_UNHANDLED_VMEXIT), a triple fault, NMI, #DF, #MC.
 *
 * Each signal is sent with rt_tgsigqueueinfo to the thread itself, so it is not forced the way
 * the kernel forces a fault's signal: the launcher puts back the dispositions libdune's dune_init
 * set to SIG_IGN (see restoreDispositions), or a fault would be ignored and met again for ever.
 */
export function deliverFaultsAsSignals(lib: LibDune): void {
  const raise = (vector: number, signo: number, code: number, addr: 'rip' | 'none'): void => {
    lib.registerIntrHandler(vector, (cpu, tf) => {
      lib.raiseFromTrap(cpu, tf, signo, code, addr === 'rip' ? lib.tfGet(cpu, tf, TF.rip) : 0);
    });
  };
  raise(Vector.DivideError, SIGFPE, FPE_INTDIV, 'rip');
  raise(Vector.InvalidOpcode, SIGILL, ILL_ILLOPN, 'rip');
  raise(Vector.AlignmentCheck, SIGBUS, BUS_ADRALN, 'rip');
  raise(Vector.StackFault, SIGBUS, SI_KERNEL, 'none');
  raise(Vector.SegmentNotPresent, SIGBUS, SI_KERNEL, 'none');
  raise(Vector.X87Fpu, SIGFPE, FPE_FLTINV, 'rip');
  raise(Vector.SimdFp, SIGFPE, FPE_FLTINV, 'rip');
  for (const v of [Vector.GeneralProtection, Vector.Overflow, Vector.BoundRange, Vector.InvalidTss, Vector.DeviceNotAvailable]) raise(v, SIGSEGV, SI_KERNEL, 'none');
  // INT n in guest ring 0 reaches libDune's gate for n (DPL 0 is no bar at CPL 0); in a Linux
  // process ring 3 meets DPL 0 gates and takes #GP — SIGSEGV — except at INT3's, DPL 3: SIGTRAP.
  raise(Vector.Breakpoint, SIGTRAP, SI_KERNEL, 'none');
  for (let v = 32; v < 256; v++) raise(v, SIGSEGV, SI_KERNEL, 'none');
  lib.registerPgfltHandler((cpu, addr, fec, tf) => {
    lib.raiseFromTrap(cpu, tf, SIGSEGV, (fec & 1) !== 0 ? SEGV_ACCERR : SEGV_MAPERR, addr);
  });
  lib.onFatalExit = (ret, status, p) => {
    if (ret === DuneRet.Interrupt) return { signo: SIGTRAP, code: TRAP_BRKPT, addr: 0 };
    if (ret !== DuneRet.EptViolation) return undefined;
    const hva = lib.layout.gpaToHva(status);
    const addr = hva >= 0 ? hva : status;
    return { signo: SIGSEGV, code: hva >= 0 && p.mm.vmas.find(hva) !== undefined ? SEGV_ACCERR : SEGV_MAPERR, addr };
  };
}

/**
 * dune_init sets SIG_IGN for most signals ("until we have better support"); a launcher that
 * promises the program Linux's behaviour puts back what the process had before it.
 */
export function restoreDispositions(p: Process, before: Array<{ handler: number; flags: number; restorer: number; maskLo: number; maskHi: number }>): void {
  for (let s = 1; s < before.length; s++) Object.assign(p.actions[s]!, before[s]);
}
