import {
  CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_DETACHED, CLONE_FILES, CLONE_FS, CLONE_IO, CLONE_NEWCGROUP, CLONE_NEWIPC,
  CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS, CLONE_PARENT, CLONE_PARENT_SETTID, CLONE_PIDFD,
  CLONE_PTRACE, CLONE_SETTLS, CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_THREAD, CLONE_UNTRACED, CLONE_VFORK, CLONE_VM, CSIGNAL,
} from '../../core/linux/linux-abi.js';

/** The clone flags by name (include/uapi/linux/sched.h), for policies and reports. */
export const CLONE_FLAG_NAMES: ReadonlyArray<readonly [string, number]> = [
  ['CLONE_VM', CLONE_VM], ['CLONE_FS', CLONE_FS], ['CLONE_FILES', CLONE_FILES], ['CLONE_SIGHAND', CLONE_SIGHAND],
  ['CLONE_PIDFD', CLONE_PIDFD], ['CLONE_PTRACE', CLONE_PTRACE], ['CLONE_VFORK', CLONE_VFORK], ['CLONE_PARENT', CLONE_PARENT],
  ['CLONE_THREAD', CLONE_THREAD], ['CLONE_NEWNS', CLONE_NEWNS], ['CLONE_SYSVSEM', CLONE_SYSVSEM], ['CLONE_SETTLS', CLONE_SETTLS],
  ['CLONE_PARENT_SETTID', CLONE_PARENT_SETTID], ['CLONE_CHILD_CLEARTID', CLONE_CHILD_CLEARTID], ['CLONE_DETACHED', CLONE_DETACHED],
  ['CLONE_UNTRACED', CLONE_UNTRACED], ['CLONE_CHILD_SETTID', CLONE_CHILD_SETTID], ['CLONE_NEWCGROUP', CLONE_NEWCGROUP],
  ['CLONE_NEWUTS', CLONE_NEWUTS], ['CLONE_NEWIPC', CLONE_NEWIPC], ['CLONE_NEWUSER', CLONE_NEWUSER], ['CLONE_NEWPID', CLONE_NEWPID],
  ['CLONE_NEWNET', CLONE_NEWNET], ['CLONE_IO', CLONE_IO],
];

/**
 * What a thread of the program's own group is: the same address space, handlers and thread
 * group. The runtime can confine nothing else — a new process (fork, vfork, CLONE_VM without
 * CLONE_THREAD) would need a sandbox of its own, which the real sandbox gets by exec'ing itself.
 */
export const CLONE_THREAD_REQUIRED = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;

/**
 * Every flag a sandboxed thread may use: what glibc's and musl's pthread_create pass
 * (CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID, musl adding
 * CLONE_DETACHED, which Linux ignores) and CLONE_CHILD_SETTID. Never: namespaces (CLONE_NEW*),
 * CLONE_PTRACE and CLONE_UNTRACED (tracing is the host's business), CLONE_VFORK, CLONE_PARENT
 * (a sibling of the sandbox outside it), CLONE_PIDFD, CLONE_IO, and an exit signal (CSIGNAL):
 * threads have none.
 */
export const CLONE_THREAD_FLAGS = CLONE_THREAD_REQUIRED | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM | CLONE_SETTLS |
  CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_DETACHED;

/** 'CLONE_VM|CLONE_THREAD', and the exit signal as a number: how a report names a set of flags. */
export function formatCloneFlags(flags: number): string {
  const out: string[] = [];
  let rest = flags >>> 0;
  for (const [name, bit] of CLONE_FLAG_NAMES) {
    if ((rest & bit) !== 0) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if ((rest & CSIGNAL) !== 0) {
    out.push(`signal ${rest & CSIGNAL}`);
    rest = (rest & ~CSIGNAL) >>> 0;
  }
  if (rest !== 0) out.push(`0x${rest.toString(16)}`);
  return out.length === 0 ? '0' : out.join('|');
}
