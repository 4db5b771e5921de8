import { injectable } from 'inversify';
import { CostContribution, PluginCostConstant } from '../../core/framework/cost-contribution.js';

/**
 * The sandbox's own costs: instructions of the runtime's code paths (apps/sandbox/trap.c, umm.c)
 * and of the ptrace supervisor's, charged at the profile's `instruction` cost each, on top of what
 * the machine charges for the mechanisms they use (the VMCALL, the page walks, the system calls
 * the supervisor makes). None is fitted to a paper's figure: the sandbox's overheads stay
 * predictions (docs/architecture.md §2).
 */
export const SANDBOX_COST_CONSTANTS = {
  sandboxDispatch: {
    value: 12, unit: 'instructions',
    description: "the runtime's system-call dispatch: the trap frame's number read, the call's spec looked up, the pipeline entered",
    source: "first-order count, not measured, of apps/sandbox/trap.c's syscall handler before the pipeline: the number from the trap frame, a table index, the calls of syscall_check_params, syscall_allow and syscall_do",
  },
  sandboxDeny: {
    value: 10, unit: 'instructions',
    description: 'a call refused: the error set in the trap frame and the report recorded',
    source: "first-order count, not measured, of trap.c's refusal: -errno stored in tf->rax and the return towards ring 3",
  },
  sandboxEmulatedCall: {
    value: 20, unit: 'instructions',
    description: "a call the runtime answers itself (arch_prctl, the signal calls, set_robust_list, a thread's clone) beyond the work charged separately",
    source: "first-order count, not measured, of one of trap.c's emulated cases: a switch arm, a field read or written, the return value",
  },
  sandboxCheckPerArgument: {
    value: 4, unit: 'instructions',
    description: "syscall_check_params: one argument's kind looked at",
    source: "first-order count, not measured, of syscall_check_params (trap.c) per argument: a load and a switch on its kind",
  },
  sandboxCheckPerRange: {
    value: 6, unit: 'instructions',
    description: 'check_extent / mem_ref_is_safe: one buffer checked against the untrusted windows',
    source: "first-order count, not measured, of check_extent / mem_ref_is_safe (trap.c): an add with an overflow check and compares against the two windows",
  },
  sandboxCheckPerStringByte: {
    value: 2, unit: 'instructions',
    description: 'check_string: one byte of a path or string scanned for its NUL',
    source: "first-order count of check_string's loop (trap.c): a load and a compare-and-branch per byte",
  },
  sandboxCheckPerIovec: {
    value: 8, unit: 'instructions',
    description: 'one iovec of readv/writev/sendmsg: its base and length read and checked',
    source: "first-order count, not measured, of trap.c's iovec loop per element: two loads and the loop, check_extent charged separately",
  },
  sandboxCopyPerCopy: {
    value: 6, unit: 'instructions',
    description: 'a copy of an argument buffer into the runtime: the memcpy call and its set-up',
    source: 'a call to memcpy with its argument set-up and return (System V calling convention)',
  },
  sandboxCopyPerWord: {
    value: 1, unit: 'instructions',
    description: 'one 8-byte word of such a copy',
    source: 'rep movsq moves one quadword per iteration (Intel SDM Vol. 2B, MOVS)',
  },
  sandboxPolicyPerCall: {
    value: 6, unit: 'instructions',
    description: 'syscall_allow: the deny and allow lists looked at for one call',
    source: 'first-order count, not measured: the deny and allow lists looked up by call number (two set lookups)',
  },
  sandboxPolicyPerPath: {
    value: 30, unit: 'instructions',
    description: 'one path argument judged by the file rules (a prefix comparison per rule)',
    source: 'first-order count, not measured, of a prefix comparison against each rule of a small policy (policies/*.json have a handful)',
  },
  sandboxMirrorPerEntry: {
    value: 6, unit: 'instructions',
    description: 'umm: one guest page-table entry written or cleared while mirroring a host mmap, mprotect or munmap',
    source: "first-order count, not measured, of libDune vm.c's per-entry work under umm's mirroring (compute the entry, store it, advance)",
  },
  sandboxMirrorPerTable: {
    value: 20, unit: 'instructions',
    description: 'umm: one guest page table visited (or allocated) by that loop',
    source: "first-order count, not measured, of one level of libDune vm.c's __dune_vm_page_walk (index, present check, descend or allocate)",
  },
  ptraceSupervisorSyscall: {
    value: 6, unit: 'instructions',
    description: "the ptrace supervisor: setting up one of its own system calls (wait4, ptrace) around the SYSCALL",
    source: 'first-order count of a libc system-call wrapper: arguments into registers, SYSCALL, the error check on return',
  },
  ptraceSupervisorLoop: {
    value: 8, unit: 'instructions',
    description: "the ptrace supervisor's loop around wait4 and the decode of the stop status",
    source: "first-order count, not measured, of a C supervisor's loop: the WIFSTOPPED / WSTOPSIG tests and the loop branch",
  },
  ptraceSupervisorDecode: {
    value: 12, unit: 'instructions',
    description: "the decode of a system-call entry stop: the number and arguments from struct user_regs_struct",
    source: 'first-order count: seven loads from the PTRACE_GETREGS buffer (orig_rax and the six argument registers) and a table lookup',
  },
  ptraceSupervisorDeny: {
    value: 10, unit: 'instructions',
    description: 'the bookkeeping of a denial by the supervisor (the call turned into an invalid one, the error to set at exit)',
    source: "taken equal to the runtime's refusal (sandboxDeny): the same work, done the Linux way",
  },
} as const satisfies Record<string, PluginCostConstant>;

const C = SANDBOX_COST_CONSTANTS;

/** Instruction counts charged by the runtime's own steps (dispatch in trap.c, the emulated calls). */
export const SANDBOX_COSTS = { dispatch: C.sandboxDispatch.value, deny: C.sandboxDeny.value, emulated: C.sandboxEmulatedCall.value };
/** Instruction counts charged for the checks (the C sandbox's check_extent and check_string). */
export const CHECK_COSTS = {
  perArgument: C.sandboxCheckPerArgument.value, perRange: C.sandboxCheckPerRange.value,
  perStringByte: C.sandboxCheckPerStringByte.value, perIovec: C.sandboxCheckPerIovec.value,
};
/** Instructions a memcpy of the copy costs: a call and its setup, then one per 8-byte word (rep movsq). */
export const COPY_COSTS = { perCopy: C.sandboxCopyPerCopy.value, perWord: C.sandboxCopyPerWord.value };
/** Instructions charged per rule looked at (a list lookup, a prefix comparison). */
export const POLICY_COSTS = { perCall: C.sandboxPolicyPerCall.value, perPath: C.sandboxPolicyPerPath.value };
/** Instructions charged per page table entry the mirror writes or clears (vm.c's loops). */
export const MIRROR_COSTS = { perEntry: C.sandboxMirrorPerEntry.value, perTable: C.sandboxMirrorPerTable.value };
/** Instructions of the supervisor's own code (ptrace-supervisor.ts). */
export const SUPERVISOR_COSTS = {
  syscall: C.ptraceSupervisorSyscall.value, loop: C.ptraceSupervisorLoop.value,
  decode: C.ptraceSupervisorDecode.value, deny: C.ptraceSupervisorDeny.value,
};

/** The constants above, contributed so that `dunesim profile` lists them and no other plugin takes their names. */
@injectable()
export class SandboxCostConstants implements CostContribution {
  readonly plugin = 'sandbox';
  readonly constants = SANDBOX_COST_CONSTANTS;
}
