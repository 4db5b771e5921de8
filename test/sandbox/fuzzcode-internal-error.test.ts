/**
 * Host robustness (class 8): an exception out of the model — a bug of dunesim, whatever the guest
 * did to expose it — ends the run with status 70 (EX_SOFTWARE) and a report that says so, with
 * the machine's state; never with the guest's status, never with a bare JavaScript stack.
 */
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { HELLO, Asm, patched, RAX, RSP } from './hostile.js';
import { execElf, EXIT_INTERNAL_ERROR } from '../../core/system/index.js';
import { sandboxed } from './run.js';

function runWith(fail: (k: import('../../core/linux/kernel.js').Kernel) => void): { exitCode: number; messages: string } {
  let messages = '';
  const r = execElf(HELLO, [], {
    mode: 'linux-with-a-bug',
    profile: 'dune-e3-1230v2',
    memory: 64 << 20,
    envp: [],
    console: () => {},
    report: (l) => (messages += l),
    launcher: {
      launch: ({ kernel, elf, path, argv, envp }) => kernel.spawnElf(path, elf, argv as string[], envp as string[]),
      run: (k) => {
        k.run(200_000); // the program is under way (ring 3, its own page tables)
        fail(k);
        return 'done';
      },
    },
  });
  return { exitCode: r.exitCode, messages };
}

describe.runIf(existsSync(HELLO))('an internal error is reported as a dunesim bug, status 70', () => {
  it('a thrown Error: status 70, the mode, each CPU with RIP, CPL, bytes and registers, no stack', () => {
    const { exitCode, messages } = runWith(() => {
      throw new Error('a model invariant broke');
    });
    expect(exitCode).toBe(EXIT_INTERNAL_ERROR);
    expect(messages).toMatch(/^dunesim: internal error \(a dunesim bug, not the guest's fault\) in --mode linux-with-a-bug: Error: a model invariant broke\n/);
    expect(messages).toMatch(/ {2}cpu0: VMX root \(host\), CPL [03], rip 0x[0-9a-f]{16}, rflags 0x[0-9a-f]+, /);
    expect(messages).toMatch(/ {4}bytes at rip: ([0-9a-f]{2} ){14}[0-9a-f]{2}\n/);
    expect(messages).toMatch(/rax 0x[0-9a-f]{16} {2}rcx 0x[0-9a-f]{16}/);
    expect(messages).toContain('r15 0x');
    expect(messages).not.toContain('    at '); // no JavaScript stack without DUNESIM_DEBUG
    expect(messages).not.toContain('guest killed');
  });

  it('a thrown non-Error value is reported the same way', () => {
    const { exitCode, messages } = runWith(() => {
      throw 42;
    });
    expect(exitCode).toBe(70);
    expect(messages).toContain('internal error (a dunesim bug');
    expect(messages).toContain(': 42\n');
  });
});

describe.runIf(existsSync(HELLO))('non-canonical addresses in the sandbox (they ended in "scheduler loop did not settle")', () => {
  it('jmp rax to a non-canonical address: #GP at the jmp itself, SIGSEGV', () => {
    const r = sandboxed(patched(new Asm().mov(RAX, 0x0000_8000_0000_0000n).raw(0xff, 0xe0)));
    expect(r.exitCode).toBe(139);
    expect(r.events[0]).toMatchObject({ kind: 'contained', outcome: 'killed by SIGSEGV' });
    expect(r.events[0]!.attempted).toMatch(/^ring-3 #GP \(general protection\) at rip 0x[0-9a-f]+ \[ff e0/);
    expect(r.messages).not.toContain('internal error');
  });

  it('push with a non-canonical RSP: #SS, SIGBUS (Linux: do_stack_segment)', () => {
    const r = sandboxed(patched(new Asm().mov(RSP, 0x8000_0000_0000_1000n).raw(0x50)));
    expect(r.exitCode).toBe(135);
    expect(r.events[0]!.attempted).toMatch(/^ring-3 #SS .* \[50 /);
  });
});
