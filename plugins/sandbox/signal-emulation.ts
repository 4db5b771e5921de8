import { EFAULT, EINVAL, KSIGACTION_SIZE, NSIG, SIGKILL, SIGSTOP, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK } from '../../core/linux/linux-abi.js';
import type { Cpu } from '../../core/vtx/cpu.js';
import { GuestMemory } from './guest-memory.js';

const MASK64 = (1n << 64n) - 1n;
const UNBLOCKABLE = (1n << BigInt(SIGKILL - 1)) | (1n << BigInt(SIGSTOP - 1));

/**
 * rt_sigaction and rt_sigprocmask, kept in the runtime. Passing them on would install the
 * program's handler in the host process, and a signal would then run untrusted code in host
 * mode, outside the sandbox — so, as the Dune sandbox does, the runtime answers them itself:
 * actions and each thread's mask are recorded and read back, and no signal is ever delivered to the program.
 */
export class SignalEmulation {
  private readonly actions = new Map<number, Uint8Array>();

  constructor(private readonly memory: GuestMemory) {}

  sigaction(cpu: Cpu, sig: number, act: number, oldact: number, sigsetsize: number): number {
    if (sigsetsize !== 8 || sig < 1 || sig > NSIG) return -EINVAL;
    if (act !== 0 && (sig === SIGKILL || sig === SIGSTOP)) return -EINVAL;
    const next = act !== 0 ? this.memory.read(cpu, act, KSIGACTION_SIZE) : undefined;
    if (act !== 0 && next === undefined) return -EFAULT;
    if (oldact !== 0 && !this.memory.write(cpu, oldact, this.actions.get(sig) ?? new Uint8Array(KSIGACTION_SIZE))) return -EFAULT;
    if (next !== undefined) this.actions.set(sig, next);
    return 0;
  }

  /** On the calling thread's own mask (`thread`), as each thread has one in Linux. */
  sigprocmask(cpu: Cpu, thread: { sigmask: bigint }, how: number, set: number, oldset: number, sigsetsize: number): number {
    if (sigsetsize !== 8) return -EINVAL;
    let next = thread.sigmask;
    if (set !== 0) {
      const b = this.memory.read(cpu, set, 8);
      if (b === undefined) return -EFAULT;
      const v = new DataView(b.buffer).getBigUint64(0, true);
      if (how === SIG_BLOCK) next = thread.sigmask | v;
      else if (how === SIG_UNBLOCK) next = thread.sigmask & ~v & MASK64;
      else if (how === SIG_SETMASK) next = v;
      else return -EINVAL;
    }
    if (oldset !== 0) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, thread.sigmask, true);
      if (!this.memory.write(cpu, oldset, b)) return -EFAULT;
    }
    thread.sigmask = next & ~UNBLOCKABLE;
    return 0;
  }
}
