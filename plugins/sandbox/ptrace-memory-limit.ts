import { PAGE_SIZE } from '../../core/vtx/arch.js';
import { NR } from '../../core/linux/linux-abi.js';
import { RegionSet } from './region-set.js';

const pageUp = (x: number): number => Math.ceil(x / PAGE_SIZE) * PAGE_SIZE;
/** A system-call result that is an error (-4095 … -1), as the kernel's IS_ERR_VALUE. */
const isError = (r: number): boolean => r < 0 && r > -4096;

/** What the limit refuses at the entry stop: the rule, and what brk returns instead of -ENOMEM. */
export interface MemoryRefusal {
  readonly rule: string;
  readonly returned?: number;
}

/**
 * limits.memory for the ptrace supervisor: the same count as the Dune sandbox's memory manager
 * (the heap above its first break plus every mapping held at once), kept from what the tracee's
 * calls return at their exit stops — a supervisor cannot see the address space, only the calls.
 * A call that would pass the limit is refused at its entry stop: mmap and mremap with -ENOMEM, brk
 * by returning the old break (as a failed brk does).
 */
export class PtraceMemoryLimit {
  private readonly maps = new RegionSet();
  /** The first break the tracee learnt (its first brk's result); -1 before. */
  private brkStart = -1;
  private brkCur = -1;

  constructor(readonly limit: number) {}

  get used(): number {
    return this.maps.total + (this.brkStart < 0 ? 0 : pageUp(this.brkCur) - pageUp(this.brkStart));
  }

  /** Whether the call's result must be seen at its exit stop. */
  tracks(nr: number): boolean {
    return nr === NR.brk || nr === NR.mmap || nr === NR.munmap || nr === NR.mremap;
  }

  /** At the entry stop: undefined to let the call run. */
  check(nr: number, args: readonly number[]): MemoryRefusal | undefined {
    let grow = 0;
    switch (nr) {
      case NR.brk:
        if (this.brkCur >= 0 && args[0]! > this.brkCur) grow = pageUp(args[0]!) - pageUp(this.brkCur);
        break;
      case NR.mmap:
        if (args[1]! > 0) grow = pageUp(args[1]!);
        break;
      case NR.mremap:
        if (args[1]! >= 0 && args[2]! > 0) grow = pageUp(args[2]!) - pageUp(args[1]!);
        break;
    }
    if (grow <= 0 || this.used + grow <= this.limit) return undefined;
    const rule = `limits.memory ${this.limit} bytes (${this.used} in use, ${grow} more asked)`;
    return nr === NR.brk ? { rule, returned: this.brkCur } : { rule };
  }

  /** At the exit stop: what the call did. */
  done(nr: number, args: readonly number[], r: number): void {
    switch (nr) {
      case NR.brk:
        if (r > 0) {
          if (this.brkStart < 0) this.brkStart = r;
          this.brkCur = r;
        }
        break;
      case NR.mmap:
        if (!isError(r)) this.maps.add(r, r + pageUp(args[1]!));
        break;
      case NR.munmap:
        if (r === 0 && args[1]! > 0) this.maps.remove(args[0]!, args[0]! + pageUp(args[1]!));
        break;
      case NR.mremap:
        if (!isError(r)) {
          this.maps.remove(args[0]!, args[0]! + pageUp(args[1]!));
          this.maps.add(r, r + pageUp(args[2]!));
        }
        break;
    }
  }
}
