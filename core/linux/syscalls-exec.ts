import * as fs from 'node:fs';
import { fxInitImage } from '../vtx/fx-save-area.js';
import { PAGE_SIZE } from '../vtx/arch.js';
import { Cpu, RAX, RSP } from '../vtx/cpu.js';
import { OutOfMemoryError } from '../vtx/frame-allocator.js';
import { ElfError, ElfFile } from './elf/elf-file.js';
import { loadElf } from './exec.js';
import { BLOCKED, Kernel, SyscallResult } from './kernel.js';
import {
  ARG_MAX, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, BINPRM_BUF_SIZE, E2BIG, EACCES, EBADF, EFAULT,
  EINVAL, ELOOP, ENOENT, ENOEXEC, EXEC_MAX_DEPTH, MAX_ARG_STRINGS, MAX_ARG_STRLEN, NR, PATH_MAX,
  PTRACE_EVENT_EXEC, PTRACE_O_TRACEEXEC, RLIMIT_STACK, SIGSEGV, SIGTRAP, SIG_DFL, SIG_IGN, STK_LIM,
  SI_KERNEL, SIGKILL, TASK_COMM_LEN, signaledStatus,
} from './linux-abi.js';
import { queueSignal } from './signals.js';
import { SyscallContext, SyscallTable } from './syscall-table.js';
import { readPath } from './syscalls-fs.js';
import { Process, SigAction, Task, TaskState } from './task.js';
import { clearChildTid } from './futex.js';
import type { KernelFile } from './task.js';
import { CharDevice, OpenFile, PathFile, RegularFile, closeFd, fdPath, guestPathOf, host, lookup } from './vfs.js';

/**
 * execve(2) and execveat(2) (fs/exec.c, fs/binfmt_elf.c, fs/binfmt_script.c).
 *
 * Everything that can fail with an errno happens first, with the caller untouched: the name is
 * looked up under the guest's root, the file must be a regular file with an execute bit, argv and
 * envp are copied in with Linux's limits, `#!` lines are followed (at most EXEC_MAX_DEPTH levels)
 * and the ELF headers checked as load_elf_binary checks them before its point of no return. Then
 * begin_new_exec: the other threads die, the old mm is released for a fresh one, close-on-exec
 * descriptors close, caught signals go back to SIG_DFL, and the image is mapped. A failure after
 * that point cannot be reported to a program that no longer exists: the process dies of SIGSEGV.
 */
export function registerExecSyscalls(t: SyscallTable): void {
  t.add(NR.execve, 'execve', 3, (ctx, filename, argv, envp) => execveat(ctx, AT_FDCWD, filename, argv, envp, 0));
  t.add(NR.execveat, 'execveat', 5, execveat);
}

/** An executable file as exec reads it: its bytes, and what it is called for comm and AT_EXECFN. */
interface ExecFile {
  readonly bytes: Uint8Array;
  /** The guest path of the file itself (for the process name when it was reached through a descriptor). */
  readonly guest: string;
}

/** What the binary formats work on (struct linux_binprm). */
interface Binprm {
  /** The name execve was given ("/dev/fd/N[/name]" for a descriptor), AT_EXECFN's string. */
  readonly filename: string;
  /** The file the next binary format looks at. */
  file: ExecFile;
  /** argv[0] of a script: the name it was run by (bprm->interp), then its interpreter's. */
  interp: Uint8Array;
  /** The strings as bytes, passed on exactly as they were (they need not be UTF-8). */
  argv: Uint8Array[];
  readonly envp: Uint8Array[];
  /** Bytes left for strings (bprm_stack_limits less the pointers, less what is copied). */
  room: number;
  /** The name was reached through a close-on-exec descriptor: a script could not reopen it. */
  readonly pathInaccessible: boolean;
}

function execveat(ctx: SyscallContext, dirfd: number, pathVa: number, argvVa: number, envpVa: number, flags: number): SyscallResult {
  const { kernel, cpu, task } = ctx;
  const p = task.process;
  if ((flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) !== 0) return -EINVAL;
  const name = readPath(ctx, pathVa);
  if (typeof name === 'number') return name;
  if (name === '' && (flags & AT_EMPTY_PATH) === 0) return -ENOENT;
  const file = name === '' ? openExecFd(p, dirfd) : openExec(kernel, p, dirfd, name, (flags & AT_SYMLINK_NOFOLLOW) === 0);
  if (typeof file === 'number') return file;
  // do_execveat_common: a name relative to a descriptor is known as /dev/fd/N/name.
  const byFd = dirfd !== AT_FDCWD && !name.startsWith('/');
  const filename = !byFd ? name : name === '' ? `/dev/fd/${dirfd}` : `/dev/fd/${dirfd}/${name}`;

  const argv = copyStrings(ctx, argvVa);
  if (typeof argv === 'number') return argv;
  const envp = copyStrings(ctx, envpVa);
  if (typeof envp === 'number') return envp;
  // bprm_stack_limits: a quarter of RLIMIT_STACK, at most 3/4 of _STK_LIM, at least ARG_MAX,
  // holds the pointers (argc counted as at least 1) and the strings.
  const rlim = p.rlimits[RLIMIT_STACK]!.cur;
  let limit = Math.max(Math.min(STK_LIM / 4 * 3, Number(rlim / 4n)), ARG_MAX);
  const ptrSize = (Math.max(argv.length, 1) + envp.length) * 8;
  if (limit <= ptrSize) return -E2BIG;
  limit -= ptrSize;
  // Copied as Linux copies them: the file name, then envp, then argv, each from its last string.
  let room = limit - (utf8Length(filename) + 1);
  for (const list of [envp, argv]) {
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i]!;
      if (typeof s === 'number') return s;
      room -= s.length + 1;
      if (room < 0) return -E2BIG;
    }
  }
  const bprm: Binprm = {
    filename, file, interp: Buffer.from(filename, 'utf8'), argv: argv as Uint8Array[], envp: envp as Uint8Array[], room,
    pathInaccessible: byFd && p.cloexec.has(dirfd),
  };
  // Since Linux 5.18 an empty argv gets one empty string, so that argv[0] is never NULL.
  if (bprm.argv.length === 0) {
    bprm.argv.push(new Uint8Array(0));
    bprm.room -= 1;
  }
  const elf = searchBinaryHandlers(kernel, p, bprm);
  if (typeof elf === 'number') return elf;
  cpu.cycles += kernel.costs.execPath;
  if (deThread(kernel, cpu, task)) return beginNewExec(kernel, cpu, task, bprm, elf);
  // Threads running on other CPUs die there first; the exec goes on once they are gone.
  const finish = (): void => {
    if (!deThread(kernel, kernel.cpuOf(task), task)) {
      waitForThreads(kernel, task, finish);
      return;
    }
    task.regs.set(RAX, beginNewExec(kernel, kernel.cpuOf(task), task, bprm, elf));
  };
  waitForThreads(kernel, task, finish);
  return BLOCKED;
}

// ---- opening the file ------------------------------------------------------------------------

/**
 * do_open_execat: the file a name leads to, which must be a regular file with an execute bit
 * (-EACCES for a directory, a device or a file without one: may_open's MAY_EXEC and the S_ISREG
 * check; root too needs one x bit).
 */
function openExec(k: Kernel, p: Process, dirfd: number, name: string, follow: boolean): ExecFile | number {
  const guest = guestPathOf(k, p, dirfd, name);
  if (typeof guest === 'number') return guest;
  if (k.devices.has(guest) || CharDevice.named(guest) !== undefined) return -EACCES;
  const r = lookup(k, p, dirfd, name, follow);
  if (typeof r === 'number') return r;
  if (!r.exists || r.stat === undefined) return -ENOENT;
  if (r.stat.isSymbolicLink()) return -ELOOP; // AT_SYMLINK_NOFOLLOW on a link
  if (!r.stat.isFile() || (r.stat.mode & 0o111) === 0) return -EACCES;
  const fd = host(() => fs.openSync(r.host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW));
  if (typeof fd === 'number' && fd < 0) return fd;
  try {
    return readExecFile(fd as number, r.guest);
  } finally {
    host(() => fs.closeSync(fd as number));
  }
}

/** execveat(fd, "", …, AT_EMPTY_PATH): the file the descriptor holds (fexecve). */
function openExecFd(p: Process, dirfd: number): ExecFile | number {
  const f = p.files.get(dirfd);
  if (f === undefined) return -EBADF;
  if (!(f instanceof RegularFile) && !(f instanceof PathFile)) return -EACCES; // a pipe, a socket, the console …
  const st = host(() => fs.fstatSync(f.hostFd));
  if (typeof st === 'number') return st;
  if (!st.isFile() || (st.mode & 0o111) === 0) return -EACCES;
  // An O_PATH descriptor cannot be read; the host reopens the object itself through /proc.
  const fd = host(() => fs.openSync(fdPath(f.hostFd), fs.constants.O_RDONLY));
  if (typeof fd === 'number' && fd < 0) return fd;
  try {
    return readExecFile(fd as number, (f as OpenFile).guestPath ?? '/');
  } finally {
    host(() => fs.closeSync(fd as number));
  }
}

function readExecFile(fd: number, guest: string): ExecFile | number {
  const bytes = host(() => fs.readFileSync(fd));
  if (typeof bytes === 'number') return bytes;
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), guest };
}

// ---- argv and envp ---------------------------------------------------------------------------

/**
 * count() and the reads of copy_strings: the NULL-terminated array of string pointers at `va`
 * (NULL itself: no strings), each string read with strnlen_user's bound. -EFAULT for a pointer
 * -EFAULT for a pointer that cannot be read, -E2BIG past MAX_ARG_STRINGS pointers. A string that
 * cannot be read (-EFAULT) or is longer than MAX_ARG_STRLEN with its NUL (-E2BIG) is left as that
 * errno in its place, because copy_strings fails on it only when its turn comes (envp before
 * argv, last string first).
 */
function copyStrings(ctx: SyscallContext, va: number): Array<Uint8Array | number> | number {
  const out: Array<Uint8Array | number> = [];
  if (va === 0) return out;
  const ptrs: number[] = [];
  for (let i = 0; ; i++) {
    if (i >= MAX_ARG_STRINGS) return -E2BIG;
    const ptr = ctx.kernel.readUser64(ctx.cpu, ctx.task, va + i * 8);
    if (ptr === undefined) return -EFAULT;
    if (ptr === 0) break;
    ptrs.push(ptr);
  }
  // Linux reads each string when it copies it, after counting both arrays: a string that cannot
  // be read (-EFAULT) or is too long (-E2BIG) is an error only when its turn comes.
  for (const ptr of ptrs) out.push(readArgString(ctx, ptr));
  return out;
}

/** One string of argv or envp without its NUL; -EFAULT, or -E2BIG past MAX_ARG_STRLEN. */
function readArgString(ctx: SyscallContext, va: number): Uint8Array | number {
  const parts: Uint8Array[] = [];
  let total = 0;
  while (total < MAX_ARG_STRLEN) {
    const at = va + total;
    const n = Math.min(PAGE_SIZE - (((at % PAGE_SIZE) + PAGE_SIZE) % PAGE_SIZE), MAX_ARG_STRLEN - total);
    const b = ctx.kernel.copyFromUser(ctx.cpu, ctx.task, at, n);
    if (b === undefined) return -EFAULT;
    const z = b.indexOf(0);
    if (z >= 0) {
      parts.push(b.subarray(0, z));
      return Buffer.concat(parts);
    }
    parts.push(b);
    total += n;
  }
  return -E2BIG;
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

// ---- binary formats ---------------------------------------------------------------------------

/**
 * exec_binprm: asks the formats in turn — binfmt_script, then binfmt_elf — and follows each
 * interpreter a script names, at most EXEC_MAX_DEPTH times (-ELOOP past that). The result is the
 * ELF to load, with bprm.argv as the program will see it; or the errno, with nothing changed.
 */
function searchBinaryHandlers(k: Kernel, p: Process, bprm: Binprm): ElfFile | BrokenElf | number {
  for (let depth = 0; ; depth++) {
    if (depth > EXEC_MAX_DEPTH) return -ELOOP;
    const b = bprm.file.bytes;
    if (b.length >= 2 && b[0] === 0x23 && b[1] === 0x21) {
      const r = loadScript(k, p, bprm);
      if (r !== 0) return r;
      continue;
    }
    return checkElf(k, p, bprm.file);
  }
}

const isSpaceTab = (c: number): boolean => c === 0x20 || c === 0x09;

/**
 * binfmt_script's load_script: the first line of the file, within BINPRM_BUF_SIZE bytes, is
 * `#!` and the interpreter's path, then at most one optional argument — everything after the
 * first space or tab following the path, up to the end of the line, with the spaces and tabs
 * around it trimmed (spaces inside it stay: "#!/bin/sh -e -x" gives the one argument "-e -x").
 * A first line longer than the buffer is -ENOEXEC unless the path itself ends within it; a
 * line with no path is -ENOEXEC. argv becomes [interpreter, optional argument, the script's
 * name as execve got it, argv[1] …], and the interpreter is opened in the script's place.
 */
function loadScript(k: Kernel, p: Process, bprm: Binprm): number {
  const size = BINPRM_BUF_SIZE;
  // prepare_binprm reads the first bytes into a zeroed buffer; its last byte is never looked at.
  const buf = new Uint8Array(size);
  buf.set(bprm.file.bytes.subarray(0, size));
  const bufEnd = size - 1;
  const nextNonSpaceTab = (from: number, last: number): number => {
    for (let i = from; i <= last; i++) if (!isSpaceTab(buf[i]!)) return i;
    return -1;
  };
  const nextTerminator = (from: number, last: number): number => {
    for (let i = from; i <= last; i++) if (isSpaceTab(buf[i]!) || buf[i] === 0) return i;
    return -1;
  };
  let iEnd = buf.indexOf(0x0a);
  if (iEnd < 0) {
    const first = nextNonSpaceTab(2, bufEnd);
    if (first < 0) return -ENOEXEC; // nothing but spaces and tabs
    // No space, tab or NUL after it: the path itself is cut off.
    if (nextTerminator(first, bufEnd) < 0) return -ENOEXEC;
    iEnd = bufEnd;
  }
  while (iEnd > 2 && isSpaceTab(buf[iEnd - 1]!)) iEnd--;
  const iName = nextNonSpaceTab(2, iEnd);
  if (iName < 0 || iName === iEnd) return -ENOEXEC; // no interpreter
  const iSep = nextTerminator(iName, iEnd);
  let iArg = -1;
  if (iSep >= 0 && iSep < iEnd && buf[iSep] !== 0) iArg = nextNonSpaceTab(iSep, iEnd);
  if (bprm.pathInaccessible) return -ENOENT; // the interpreter could not open /dev/fd/N after exec
  const bytes = (from: number, to: number): Uint8Array => {
    const z = buf.subarray(from, to).indexOf(0); // copy_string_kernel stops at a NUL
    return buf.slice(from, z >= 0 ? from + z : to);
  };
  const interpName = bytes(iName, iArg >= 0 ? iSep : iEnd);
  const arg = iArg >= 0 ? bytes(iArg, iEnd) : undefined;
  // remove_arg_zero, then the script's name, the argument and the interpreter in front.
  const removed = bprm.argv[0];
  const added = [interpName, ...(arg !== undefined ? [arg] : []), bprm.interp];
  bprm.room += removed !== undefined ? removed.length + 1 : 0;
  for (const s of added) bprm.room -= s.length + 1;
  // The pointers grow too; bprm_stack_limits charged them once, as Linux does (the strings' room
  // is what copy_string_kernel checks).
  if (bprm.room < 0) return -E2BIG;
  bprm.argv = [...added, ...bprm.argv.slice(1)];
  bprm.interp = interpName; // bprm_change_interp
  // open_exec: the interpreter, from the cwd, following links.
  const file = openExec(k, p, AT_FDCWD, Buffer.from(interpName).toString('utf8'), true);
  if (typeof file === 'number') return file;
  bprm.file = file;
  return 0;
}

/**
 * load_elf_binary up to its point of no return: the checks that fail with an errno and leave the
 * caller as it was. -ENOEXEC for anything that is not an x86-64 ELF executable: bad magic,
 * e_type not ET_EXEC or ET_DYN, e_machine not EM_X86_64, a program-header table of the wrong
 * entry size, empty, larger than a page (ELF_MIN_ALIGN) or not in the file. A PT_INTERP names
 * the dynamic loader, which is opened like the program: -ENOENT when it does not exist.
 * What ElfFile.parse refuses beyond that, Linux finds only while mapping (a segment outside the
 * address space, p_filesz past p_memsz …): those come back as a BrokenElf, and the exec goes past
 * the point of no return and kills the process.
 */
function checkElf(k: Kernel, p: Process, file: ExecFile): ElfFile | BrokenElf | number {
  const b = file.bytes;
  const buf = new Uint8Array(BINPRM_BUF_SIZE);
  buf.set(b.subarray(0, BINPRM_BUF_SIZE));
  const dv = new DataView(buf.buffer);
  if (buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) return -ENOEXEC;
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  // elf_check_arch: EM_X86_64 (with ELFCLASS64: an x32 or i386 file is another format's).
  if ((type !== 2 && type !== 3) || machine !== 62 || buf[4] !== 2) return -ENOEXEC;
  const phoff = Number(dv.getBigUint64(32, true));
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const size = phentsize * phnum;
  // load_elf_phdrs; a short read of the table is -ENOEXEC too (load_elf_binary keeps its retval).
  if (phentsize !== 56 || size === 0 || size > PAGE_SIZE || phoff + size > b.length) return -ENOEXEC;
  const ph = new DataView(b.buffer, b.byteOffset + phoff, size);
  for (let i = 0; i < phnum; i++) {
    if (ph.getUint32(i * 56, true) !== 3 /* PT_INTERP */) continue;
    const off = Number(ph.getBigUint64(i * 56 + 8, true));
    const len = Number(ph.getBigUint64(i * 56 + 32, true));
    if (len > PATH_MAX || len < 2) return -ENOEXEC;
    if (off + len > b.length) return -ENOEXEC; // elf_read of the name is short
    if (b[off + len - 1] !== 0) return -ENOEXEC;
    const interp = Buffer.from(b.subarray(off, off + len - 1)).toString('utf8');
    const loader = openExec(k, p, AT_FDCWD, interp, true);
    if (typeof loader === 'number') return loader;
    // The loader exists, but the model runs static executables only: say so, and refuse.
    k.console(2, new TextEncoder().encode(`dunesim: execve: ${file.guest} is dynamically linked (PT_INTERP ${interp}): only static executables run on the model\n`));
    return -ENOEXEC;
  }
  try {
    return ElfFile.parse(b);
  } catch (e) {
    if (!(e instanceof ElfError)) throw e;
    return new BrokenElf(e.message);
  }
}

/** An ELF whose headers pass Linux's early checks but which cannot be mapped: fatal after the point of no return. */
class BrokenElf {
  constructor(readonly reason: string) {}
}

// ---- the point of no return --------------------------------------------------------------------

/**
 * begin_new_exec and the rest of load_elf_binary: from here the old program is gone, and a
 * failure kills the process (force_fatal_sig(SIGSEGV) in bprm_execve).
 */
function beginNewExec(k: Kernel, cpu: Cpu, task: Task, bprm: Binprm, elf: ElfFile | BrokenElf): number {
  const p = task.process;
  unshareFiles(p);
  unshareSighand(k, p);
  // exec_mmap: a fresh mm; the CPU leaves the old one before it can go (its TLB entries with it).
  const old = p.mm;
  mmRelease(k, task, old);
  const mm = k.newAddressSpace();
  mm.hugeMmap = old.hugeMmap; // --huge-pages is the run's setting, not the image's
  p.mm = mm;
  k.switchMm(cpu, mm);
  old.users--;
  if (old.users === 0) {
    // Other CPUs that still hold it lazily (after running one of its threads) leave it too.
    for (const c of k.machine.cpus) if (c !== cpu && k.loadedRoot(c) === old.cr3 && !c.vmx.nonRoot) c.loadCr3(k.boot.pt.root);
    old.destroy();
  }
  task.vforkDone?.(); // complete_vfork_done: the parent of a vfork child goes on now
  task.vforkDone = undefined;
  // A Dune process leaves Dune: the new image is an ordinary process (its vCPU is not re-entered).
  task.releaseDune?.();
  task.returnHook = undefined;
  task.dune = undefined;
  p.libdune = undefined; // libDune's state was in the old image's memory
  // __set_task_comm: the name of the file execve was given (a script's, not its interpreter's).
  const base = bprm.filename.startsWith('/dev/fd/') ? bprm.file.guest : bprm.filename;
  p.name = (base.slice(base.lastIndexOf('/') + 1) || base).slice(0, TASK_COMM_LEN - 1);
  // do_close_on_exec.
  for (const fd of [...p.cloexec]) closeFd(p, fd);
  // flush_signal_handlers: caught signals go back to SIG_DFL, ignored ones stay ignored; the
  // flags, mask and restorer of every action are cleared. The blocked mask and pending signals stay.
  for (let s = 1; s < p.actions.length; s++) {
    const a = p.actions[s]!;
    if (a.handler !== SIG_IGN) a.handler = SIG_DFL;
    a.flags = 0;
    a.restorer = 0;
    a.maskLo = 0;
    a.maskHi = 0;
  }
  task.sigAltStack = { sp: 0, size: 0 };

  if (elf instanceof BrokenElf) {
    k.console(2, new TextEncoder().encode(`dunesim: execve: ${bprm.file.guest}: ${elf.reason}: killed with SIGSEGV\n`));
    k.exitProcess(cpu, p, signaledStatus(SIGSEGV));
    return 0;
  }
  let img;
  try {
    img = loadElf(k, p, elf, bprm.argv, bprm.envp, bprm.filename, undefined, true);
  } catch (e) {
    if (!(e instanceof OutOfMemoryError)) throw e;
    k.oomKill(task);
    return 0;
  }
  // start_thread: every register zero (ELF_PLAT_INIT), no FS or GS base, IF set, ring 3.
  const r = task.regs;
  r.lo.fill(0);
  r.hi.fill(0);
  r.fsBase = r.gsBase = r.kernelGsBase = 0;
  r.ds = r.es = r.fsSel = r.gsSel = 0;
  r.rip = img.entry;
  r.set(RSP, img.sp);
  r.rflags = 0x202;
  // fpu__clear_user_states: the new image starts with the initial x87 and SSE state.
  fxInitImage(task.fpu);
  cpu.restoreFpu(task.fpu);
  // ptrace_event(PTRACE_EVENT_EXEC): a stop for a tracer that asked for it, else a plain SIGTRAP.
  if (task.tracer !== undefined) {
    if ((task.ptraceOptions & PTRACE_O_TRACEEXEC) !== 0) {
      k.ptraceStop(cpu, task, SIGTRAP | (PTRACE_EVENT_EXEC << 8), () => {});
    } else {
      queueSignal(k, task, { signo: SIGTRAP, code: 0, addr: 0, pid: 0 }, false);
    }
  }
  return 0;
}

/**
 * de_thread: every other thread of the group dies before the new image runs. Those not on a CPU
 * (queued, asleep, stopped) exit at once; one running on another CPU is sent SIGKILL and the
 * reschedule IPI (zap_other_threads) and exits there — alone, since Process.execTask marks the
 * exec — and the caller waits (waitForThreads). Returns whether the caller is the only thread
 * left; it is then the group's leader, whatever its tid (Linux would give it the leader's tid).
 */
export function deThread(k: Kernel, cpu: Cpu, task: Task): boolean {
  const p = task.process;
  let remote = false;
  for (const t of [...p.threads]) {
    if (t === task || t.state === TaskState.Dead) continue;
    if (t.state === TaskState.Running && k.current[t.cpu] === t && t.cpu !== cpu.index) {
      if (!t.pending.some((x) => x.signo === SIGKILL)) t.pending.push({ signo: SIGKILL, code: SI_KERNEL, addr: 0, pid: 0 });
      k.kick(t.cpu);
      remote = true;
      continue;
    }
    k.exitThread(cpu, t, signaledStatus(SIGKILL));
  }
  if (remote) {
    p.execTask = task;
    return false;
  }
  p.execTask = undefined;
  // The dead leader (a zombie until now) goes too: the caller is the group from here on.
  for (const t of p.threads) if (t !== task) k.tasks.delete(t.tid);
  p.threads.splice(0, p.threads.length, task);
  return true;
}

/** The caller of execve sleeps (killable only) until the threads deThread killed are gone. */
function waitForThreads(k: Kernel, task: Task, then: () => void): void {
  const p = task.process;
  k.sleep(task, () => p.threads.every((t) => t === task || t.state === TaskState.Dead), then, () => false);
  task.uninterruptible = true;
}

/**
 * unshare_files: a descriptor table shared with another process (CLONE_FILES) is copied first,
 * so that closing the close-on-exec descriptors closes them for this process only.
 */
function unshareFiles(p: Process): void {
  if (p.filesUsers.count <= 1) return;
  const files = new Map<number, KernelFile>();
  for (const [fd, f] of p.files) {
    if (f instanceof OpenFile) f.get();
    files.set(fd, f);
  }
  p.filesUsers.count--;
  p.filesUsers = { count: 1 };
  p.files = files;
  p.cloexec = new Set(p.cloexec);
}

/**
 * unshare_sighand: handlers shared with another process (CLONE_SIGHAND without CLONE_THREAD)
 * are copied first, so that resetting them leaves the other process's alone.
 */
function unshareSighand(k: Kernel, p: Process): void {
  const shared = [...k.processes.values()].some((q) => q !== p && !q.zombie && q.actions === p.actions);
  if (!shared) return;
  p.actions = p.actions.map((a) => Object.assign(new SigAction(), a));
}

/**
 * mm_release for exec: a clear_child_tid the task set is written 0 — and its futex woken — in the
 * mm it leaves if others still use that mm (a vfork parent, a CLONE_VM process), then forgotten.
 */
function mmRelease(k: Kernel, task: Task, old: Process['mm']): void {
  if (old.users > 1) clearChildTid(k, task);
  else task.clearChildTid = 0;
}
