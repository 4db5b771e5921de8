/**
 * Containment (issue 5 §5), continued: self-modifying code and signal floods. Each program also
 * runs as a plain Linux process on the same model where that ends the same way. As in Dune's
 * sandbox (apps/sandbox: rt_sigaction and rt_sigprocmask are ignored, every other signal call is
 * -ENOSYS), the program can neither run a handler nor signal anyone, itself included.
 */
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { NR } from '../../core/linux/linux-abi.js';
import { execElf } from '../../core/system/index.js';
import { Asm, HELLO, RBP, RBX, patched } from './hostile.js';
import { sandboxed } from './run.js';

const PROT_RWX = 7, MAP_PRIVATE_ANON = 0x22;
const SIGUSR1 = 10, SIGCHLD = 17;

function asLinux(path: string): number {
  return execElf(path, [], { mode: 'linux', profile: 'dune-e3-1230v2', memory: 512 << 20, console: () => {}, report: () => {} }).exitCode;
}

describe.runIf(existsSync(HELLO))('sandbox containment: self-modifying code and signals', () => {
  it('code written to an RWX mapping runs, and rewriting it runs the new bytes (no stale decode), in both modes', () => {
    // p = mmap(RWX); p: "mov edi, 41; ret"; call p; esi = edi; p[1] = 43; call p; exit(edi + esi).
    // A stale decoded copy of the first version would give 41 + 41 = 82 instead of 84
    // (SDM Vol. 3 §8.1.3: a store to code is seen by the next fetch of it).
    const a = new Asm().sys(NR.mmap, 0, 4096, PROT_RWX, MAP_PRIVATE_ANON, -1, 0)
      .raw(0x48, 0x89, 0xc3) // mov rbx, rax
      .raw(0xc7, 0x03, 0xbf, 0x29, 0x00, 0x00) // mov dword [rbx], bytes bf 29 00 00
      .raw(0xc7, 0x43, 0x04, 0x00, 0xc3, 0x00, 0x00) // mov dword [rbx+4], bytes 00 c3 00 00
      .raw(0xff, 0xd3) // call rbx
      .raw(0x89, 0xfe) // mov esi, edi
      .raw(0xc6, 0x43, 0x01, 0x2b) // mov byte [rbx+1], 43
      .raw(0xff, 0xd3) // call rbx
      .raw(0x01, 0xf7) // add edi, esi
      .mov(0, 231).raw(0x0f, 0x05); // exit_group(edi)
    const path = patched(a);
    const r = sandboxed(path);
    expect(r.exitCode).toBe(84);
    expect(r.events).toEqual([]);
    expect(asLinux(path)).toBe(84);
  });

  it('a flood of 2000 kill(self, SIGCHLD): each is -ENOSYS and reported in the sandbox; exit 0 in both modes', () => {
    const a = new Asm().sys(NR.getpid)
      .raw(0x48, 0x89, 0xc5) // mov rbp, rax
      .mov(RBX, 2000)
      .label('again')
      .sys(NR.kill, { reg: RBP }, SIGCHLD)
      .raw(0x48, 0xff, 0xcb) // dec rbx
      .jnz('again')
      .sys(NR.exit_group, 0);
    const path = patched(a);
    const r = sandboxed(path);
    expect(r.exitCode).toBe(0);
    expect(r.events).toHaveLength(2000);
    expect(r.events.every((e) => e.kind === 'denied' && e.outcome === '-ENOSYS' && e.attempted.startsWith('kill('))).toBe(true);
    expect(asLinux(path)).toBe(0);
  });

  it('a handler is recorded but never runs: 2000 kill(self, SIGUSR1) after rt_sigaction all fail with -ENOSYS', () => {
    // rt_sigaction(SIGUSR1, {handler = 0x401000}, NULL, 8) "succeeds" (recorded by the runtime,
    // never given to the kernel, whose handler would run untrusted code outside the runtime's
    // control); then the flood, then exit_group(-last result) = ENOSYS = 38.
    const a = new Asm()
      .sub(4, 64) // room for a struct sigaction on the stack
      .raw(0x48, 0xc7, 0x04, 0x24, 0x00, 0x10, 0x40, 0x00) // mov qword [rsp], 0x401000 (sa_handler)
      .raw(0x48, 0xc7, 0x44, 0x24, 0x08, 0x00, 0x00, 0x00, 0x00) // sa_flags = 0
      .raw(0x48, 0xc7, 0x44, 0x24, 0x10, 0x00, 0x00, 0x00, 0x00) // sa_restorer = 0
      .raw(0x48, 0xc7, 0x44, 0x24, 0x18, 0x00, 0x00, 0x00, 0x00) // sa_mask = 0
      .raw(0x48, 0x89, 0xe6) // mov rsi, rsp
      .mov(7, SIGUSR1).mov(2, 0).mov(10, 8).mov(0, NR.rt_sigaction).raw(0x0f, 0x05)
      .raw(0x48, 0x85, 0xc0) // test rax, rax
      .jnz('failed')
      .sys(NR.getpid)
      .raw(0x48, 0x89, 0xc5) // mov rbp, rax
      .mov(RBX, 2000)
      .label('again')
      .sys(NR.kill, { reg: RBP }, SIGUSR1)
      .raw(0x48, 0xff, 0xcb) // dec rbx
      .jnz('again')
      .label('failed')
      .exitWithErrno();
    const r = sandboxed(patched(a));
    expect(r.exitCode).toBe(38);
    expect(r.events.filter((e) => e.attempted.startsWith('kill('))).toHaveLength(2000);
  });
});
