/**
 * One program each for what the random system-call fuzzer found (fuzzsys-calls.test.ts), so that
 * each fix has a test that names it: the Linux ABI answer, or the policy held.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecOptions, execElf } from '../../core/system/index.js';
import { EFAULT, EINVAL, ENOMEM, EPERM, NR, TASK_SIZE } from '../../core/linux/linux-abi.js';
import { execPtraced } from '../../plugins/sandbox/exec-ptraced.js';
import { Asm, HELLO, RAX, RDI, RSP, patched } from './hostile.js';
import { captured, policy } from './run.js';

const linux = (path: string, args: string[], opts: Omit<ExecOptions, 'mode' | 'launcher'>) => execElf(path, args, { ...opts, mode: 'linux' });
const PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE_ANON = 0x22, MAP_FIXED = 0x10;
const AREA = 0x10_0000_0000; // a free address for the mappings these programs make
const ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003;

/** exit_group(RAX == value ? 0 : 1): the status says whether the last call returned `value`. */
function expectResult(a: Asm, value: number | bigint): Asm {
  // cmp rax, rdi (rdi = value); setne al; movzx edi, al; exit_group
  return a.mov(RDI, value).raw(0x48, 0x39, 0xf8, 0x0f, 0x95, 0xc0, 0x0f, 0xb6, 0xf8).mov(RAX, NR.exit_group).raw(0x0f, 0x05);
}

function runLinux(a: Asm): number {
  return captured(linux, patched(a)).result.exitCode;
}

describe.runIf(existsSync(HELLO))('fuzzsys findings: the Linux model', () => {
  it('munmap of a range that leaves the user half is -EINVAL (do_vmi_munmap), not a walk of 2^47 bytes', () => {
    expect(runLinux(expectResult(new Asm().sys(NR.munmap, AREA, 0x3a5c_af31_d8c9_c000n), -EINVAL))).toBe(0);
    expect(runLinux(expectResult(new Asm().sys(NR.munmap, AREA, -1), -EINVAL))).toBe(0);
  });

  it('munmap of the whole user half is allowed and returns (empty page-table spans are skipped)', () => {
    // Everything goes, the program's code too: the next instruction faults (SIGSEGV), which is
    // what Linux does; the point is that the call returns.
    expect(runLinux(new Asm().sys(NR.munmap, 0x1000, TASK_SIZE - 0x1000).exitWithResult())).toBe(139);
  });

  it('mprotect: a length of 0 does nothing, one that wraps is -ENOMEM (do_mprotect_pkey)', () => {
    expect(runLinux(expectResult(new Asm().sys(NR.mprotect, AREA, 0, PROT_READ), 0))).toBe(0);
    expect(runLinux(expectResult(new Asm().sys(NR.mprotect, AREA, -4096, PROT_READ), -ENOMEM))).toBe(0);
  });

  it('arch_prctl: ARCH_GET_FS stores the base; ARCH_SET_FS of a kernel or non-canonical address is -EPERM', () => {
    // ARCH_SET_FS(AREA) then ARCH_GET_FS into the stack, then read it back.
    const get = new Asm().sys(NR.arch_prctl, ARCH_SET_FS, AREA).sub(RSP, 16).sys(NR.arch_prctl, ARCH_GET_FS, { reg: RSP })
      .raw(0x48, 0x8b, 0x04, 0x24); // mov rax, [rsp]
    expect(runLinux(expectResult(get, AREA))).toBe(0);
    expect(runLinux(expectResult(new Asm().sys(NR.arch_prctl, ARCH_SET_FS, 0xffff_8800_0000_0000n), -EPERM))).toBe(0);
    expect(runLinux(expectResult(new Asm().sys(NR.arch_prctl, ARCH_SET_FS, 0x8000_0000_0000), -EPERM))).toBe(0);
    expect(runLinux(expectResult(new Asm().sys(NR.arch_prctl, ARCH_GET_FS, 0x10), -EFAULT))).toBe(0);
  });

  it('getrandom returns the bytes it could copy before a fault, -EFAULT when none', () => {
    // One page mapped at AREA, the next not: 8192 bytes asked from AREA + 4096 - 100.
    const map = (a: Asm): Asm => a.sys(NR.mmap, AREA, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE_ANON | MAP_FIXED, -1, 0);
    expect(runLinux(expectResult(map(new Asm()).sys(NR.getrandom, AREA + 4096 - 100, 8192, 0), 100))).toBe(0);
    expect(runLinux(expectResult(map(new Asm()).sys(NR.getrandom, AREA + 4096, 8192, 0), -EFAULT))).toBe(0);
    // All of a huge length into nothing: -EFAULT at once.
    expect(runLinux(expectResult(new Asm().sys(NR.getrandom, 0xc000_0000, -1, 0), -EFAULT))).toBe(0);
  });

  it('a PROT_WRITE-only mapping can be read (x86: writable implies readable)', () => {
    const a = new Asm().sys(NR.mmap, AREA, 4096, PROT_WRITE, MAP_PRIVATE_ANON | MAP_FIXED, -1, 0)
      .mov(RAX, AREA).raw(0x48, 0x8b, 0x00); // mov rax, [rax]: 0 from a fresh page
    expect(runLinux(expectResult(a, 0))).toBe(0);
    // PROT_NONE still faults.
    const none = new Asm().sys(NR.mmap, AREA, 4096, PROT_NONE, MAP_PRIVATE_ANON | MAP_FIXED, -1, 0).mov(RAX, AREA).raw(0x48, 0x8b, 0x00);
    expect(runLinux(expectResult(none, 0))).toBe(139);
  });
});

describe.runIf(existsSync(HELLO))('fuzzsys findings: the ptrace supervisor', () => {
  it('sched_yield does not let the traced program past its syscall-exit stop: the next call is still judged', () => {
    const root = mkdtempSync(join(tmpdir(), 'dunesim-fuzzsys-'));
    writeFileSync(join(root, 'secret'), 'secret\n');
    // Before the fix the program left its exit stop on its own, the supervisor took the next
    // entry for an exit, and open("/secret") ran unjudged (fd 3).
    const prog = patched(new Asm().sys(NR.getpid).sys(NR.sched_yield).sys(NR.getpid).sys(NR.open, { str: 's' }, 0, 0).exitWithResult().string('s', '/secret'));
    const r = captured(execPtraced, prog, { root, policy: policy({ files: [{ path: '/scratch', access: 'rw' }] }) });
    expect(r.result.exitCode).toBe(256 - 13); // -EACCES
    expect(r.messages).toContain('denied open("/secret", 0, 0)');
    const c = r.result.launcher.supervisor!.counts;
    expect(c.allowed + c.denied + c.rejected).toBe(c.intercepted);
  });
});
