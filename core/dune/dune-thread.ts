/**
 * What dune_enter sets up for one thread (struct dune_percpu and around it): its own GDT (the TSS
 * descriptor names its TSS), TSS, per-CPU area (the GS base inside Dune), trap stack, dune_config
 * and entry stack. The entry stack is where the thread's Linux-mode side runs — the DUNE_ENTER
 * ioctl, on_dune_exit and the host-mode signal handlers a DUNE_RET_SIGNAL exit leads to. Real
 * libdune issues the ioctl on the guest's own stack, so a signal frame Linux builds below the
 * ioctl's stack pointer can land on frames the guest pushed since; here it cannot.
 */
export class DuneThread {
  /** Where __dune_ret continues inside Dune (dune_enter's caller, or a fork child's return address). */
  resumeAt = 0;
  /** Stack of dune_jump_to_user frames (G0 state to resume on dune_ret_from_user): the thread's own. */
  readonly userReturns: number[] = [];
  constructor(
    readonly gdt: number,
    readonly tss: number,
    readonly percpu: number,
    readonly trapStackTop: number,
    readonly confVa: number,
    readonly entryStackTop: number,
  ) {}
}
