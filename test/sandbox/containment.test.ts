/**
 * Containment (issue 5 §5): hostile programs in guest ring 3 under the sandbox. Each ends exactly
 * as asserted — an errno, or the process killed with a signal and a report of what it attempted —
 * and the host (this test process, the simulator) goes on to the next.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NR } from '../../core/linux/linux-abi.js';
import { Asm, HELLO, RAX, RSP, patched } from './hostile.js';
import { policy, sandboxed } from './run.js';

const POOL = 0xc000_0000;
const LIBDUNE_TEXT = 0xbf00_0000;
const RUNTIME_TEXT = 0x7000_0000;
const RUNTIME_STACK = 0x7010_0000;
const KERNEL = 0xffff_8800_0000_0000n;
const PROT_RW = 3, MAP_PRIVATE_ANON = 0x22, MAP_FIXED = 0x10;

describe.runIf(existsSync(HELLO))('sandbox containment: memory', () => {
  const reads: Array<[string, number | bigint, string]> = [
    ["libDune's page pool", POOL, "libDune's page pool"],
    ["libDune's code", LIBDUNE_TEXT, "libDune's code"],
    ["the runtime's code", RUNTIME_TEXT, "the sandbox runtime's code"],
    ["the runtime's stack", RUNTIME_STACK + 0x100, "the sandbox runtime's stack"],
    ['a kernel address', KERNEL, 'the kernel half'],
  ];
  for (const [what, addr, region] of reads) {
    it(`reading ${what} is a ring-3 #PF: killed by SIGSEGV with a report`, () => {
      // mov rax, imm64; mov rax, [rax]
      const r = sandboxed(patched(new Asm().mov(RAX, addr).raw(0x48, 0x8b, 0x00).sys(NR.exit_group, 0)));
      expect(r.exitCode).toBe(139);
      expect(r.events).toHaveLength(1);
      expect(r.events[0]).toMatchObject({ kind: 'contained', outcome: 'killed by SIGSEGV' });
      expect(r.events[0]!.attempted).toMatch(/^ring-3 #PF \(page fault\) at rip 0x[0-9a-f]+ \[48 8b 00/);
      expect(r.events[0]!.rule).toMatch(/^read of -?0x[0-9a-f]+ \(/);
      expect(r.events[0]!.rule).toContain(`(${region}`);
      expect(r.messages).toContain('sandbox: contained ring-3 #PF');
      expect(r.messages).toContain('guest killed by signal 11 (SIGSEGV)');
    });
  }

  it("writing libDune's page pool (where the guest page tables live) is a #PF, and nothing is written", () => {
    // mov rax, POOL; mov [rax], rax
    const r = sandboxed(patched(new Asm().mov(RAX, POOL).raw(0x48, 0x89, 0x00).sys(NR.exit_group, 0)));
    expect(r.exitCode).toBe(139);
    expect(r.events[0]!.rule).toBe(`write to 0xc0000000 (libDune's page pool (page tables, IDT, trap stacks)): the page is supervisor-only or read-only for ring 3`);
  });

  it("jumping into the runtime's code is an instruction-fetch #PF", () => {
    const r = sandboxed(patched(new Asm().mov(RAX, RUNTIME_TEXT).raw(0xff, 0xe0))); // jmp rax
    expect(r.exitCode).toBe(139);
    expect(r.events[0]!.attempted).toBe(`ring-3 #PF (page fault) at rip 0x70000000`);
    expect(r.events[0]!.rule).toBe("instruction fetch from 0x70000000 (the sandbox runtime's code): the page is supervisor-only or read-only for ring 3");
  });

  it('writing its own code (read-only text) is a #PF too', () => {
    const r = sandboxed(patched(new Asm().lea(RAX, 's').raw(0x48, 0x89, 0x00).string('s', 'x')));
    expect(r.exitCode).toBe(139);
    expect(r.events[0]!.rule).toMatch(/^write to 0x[0-9a-f]+ \(the program's ELF window\): the page is supervisor-only or read-only for ring 3$/);
  });
});

describe.runIf(existsSync(HELLO))('sandbox containment: privileged instructions from ring 3', () => {
  const cases: Array<[string, number[]]> = [
    ['MOV CR3, RAX', [0x0f, 0x22, 0xd8]],
    ['LIDT [RAX]', [0x0f, 0x01, 0x18]],
    ['WRMSR', [0x0f, 0x30]],
    ['HLT', [0xf4]],
    ['INVLPG [RAX]', [0x0f, 0x01, 0x38]],
    ['IN AL, DX', [0xec]],
    ['OUT DX, AL', [0xee]],
  ];
  for (const [name, bytes] of cases) {
    it(`${name} is a #GP: killed by SIGSEGV with the instruction in the report`, () => {
      // RAX = RSP: a readable operand, so the only fault left is the privilege check.
      const r = sandboxed(patched(new Asm().movReg(RAX, RSP).raw(...bytes).sys(NR.exit_group, 0)));
      expect(r.exitCode).toBe(139);
      expect(r.events).toHaveLength(1);
      expect(r.events[0]!.kind).toBe('contained');
      expect(r.events[0]!.attempted).toMatch(new RegExp(`^ring-3 #GP \\(general protection\\) at rip 0x[0-9a-f]+ \\[${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}`));
      expect(r.events[0]!.outcome).toBe('killed by SIGSEGV');
    });
  }

  it('VMCALL from ring 3 is not a system call: the Dune module refuses it and the process ends (exit(42) never runs)', () => {
    const r = sandboxed(patched(new Asm().mov(7, 42).mov(RAX, NR.exit_group).raw(0x0f, 0x01, 0xc1)));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^dune: VMCALL from guest ring 3 at rip 0x[0-9a-f]+ \(rax 231\) refused: not a system call\ndune: exit due to UnhandledVmexit \(status 0x12\)\n$/);
    expect(r.events).toEqual([{
      kind: 'contained', attempted: 'a VMCALL from ring 3 (not a system call: the Dune module refused it)',
      rule: 'only the runtime in ring 0 talks to the kernel', outcome: 'process ended by libDune (exit status 1)',
    }]);
  });
});

describe.runIf(existsSync(HELLO))('sandbox containment: system-call arguments', () => {
  const targets: Array<[string, number | bigint, string]> = [
    ["libDune's page pool", POOL, "libDune's page pool"],
    ["the runtime's stack", RUNTIME_STACK, "the sandbox runtime's stack"],
    ["libDune's code", LIBDUNE_TEXT, "libDune's code"],
    ['the kernel', KERNEL, 'the kernel half'],
  ];
  for (const [what, addr, region] of targets) {
    it(`read(0, <${what}>, 16) is -EFAULT before the kernel sees it`, () => {
      const r = sandboxed(patched(new Asm().sys(NR.read, 0, addr, 16).exitWithErrno()));
      expect(r.exitCode).toBe(14);
      expect(r.events).toHaveLength(1);
      expect(r.events[0]).toMatchObject({ kind: 'rejected', outcome: '-EFAULT' });
      expect(r.events[0]!.rule).toContain(`points into ${region}`);
      // The kernel saw two calls: the DUNE_ENTER ioctl and the runtime's exit_group.
      expect(r.stats['syscalls']).toBe(2);
    });
  }

  it('a length that wraps around the address space is -EFAULT', () => {
    const r = sandboxed(patched(new Asm().sys(NR.write, 1, { reg: RSP }, 0xffff_ffff_ffff_fff0n).exitWithErrno()));
    expect(r.exitCode).toBe(14);
    expect(r.events[0]!.rule).toMatch(/^buf \(0x7fff[0-9a-f]+\) with length -0x10 \(18446744073709551600 as size_t\) wraps around the address space$/);
  });

  it('a length that runs out of the ELF window into the runtime is -EFAULT', () => {
    const r = sandboxed(patched(new Asm().sys(NR.write, 1, 0x6fff_f000, 0x2000).exitWithErrno()));
    expect(r.exitCode).toBe(14);
    expect(r.events[0]!.rule).toBe("buf [0x6ffff000, +8192) leaves the program's ELF window");
  });

  it('a path pointing into runtime memory is -EFAULT; an iovec whose buffer does is too', () => {
    let r = sandboxed(patched(new Asm().sys(NR.open, POOL, 0, 0).exitWithErrno()));
    expect(r.exitCode).toBe(14);
    expect(r.events[0]!.rule).toBe("pathname (0xc0000000) points into libDune's page pool (page tables, IDT, trap stacks)");
    // An iovec on the stack: { iov_base = POOL, iov_len = 8 }. push 8; mov rax, POOL; push rax.
    r = sandboxed(patched(new Asm().raw(0x6a, 0x08).mov(RAX, POOL).raw(0x50).sys(NR.writev, 1, { reg: RSP }, 1).exitWithErrno()));
    expect(r.exitCode).toBe(14);
    expect(r.events[0]!.rule).toBe("iov[0].iov_base [0xc0000000, +8) points into libDune's page pool (page tables, IDT, trap stacks)");
  });
});

describe.runIf(existsSync(HELLO))('sandbox containment: socket and epoll arguments', () => {
  // Each call names runtime memory where the kernel would read or write: refused before any VMCALL.
  const cases: Array<[string, Asm, RegExp]> = [
    ['bind with the address in the page pool', new Asm().sys(NR.bind, 3, POOL, 16), /^addr \[0xc0000000, \+16\) points into libDune's page pool/],
    ['connect with the address on the runtime stack', new Asm().sys(NR.connect, 3, RUNTIME_STACK, 16), /^addr \[0x70100000, \+16\) points into the sandbox runtime's stack/],
    ['epoll_wait writing events into the page pool', new Asm().sys(NR.epoll_wait, 3, POOL, 4, 0), /^events \[0xc0000000, \+48\) points into libDune's page pool/],
    ['poll with its array in the runtime', new Asm().sys(NR.poll, RUNTIME_TEXT, 2, 0), /^fds \[0x70000000, \+16\) points into the sandbox runtime's code/],
    ['accept4 whose address length lives in the page pool', new Asm().sys(NR.accept4, 3, { reg: RSP }, POOL, 0), /^addrlen \[0xc0000000, \+4\) points into libDune's page pool/],
    ['sendto of a buffer in libDune\'s code', new Asm().sys(NR.sendto, 3, LIBDUNE_TEXT, 8, 0, 0, 0), /^buf \[0xbf000000, \+8\) points into libDune's code/],
  ];
  for (const [what, asm, rule] of cases) {
    it(`${what} is -EFAULT`, () => {
      const r = sandboxed(patched(asm.exitWithErrno()));
      expect(r.exitCode).toBe(14);
      expect(r.events).toHaveLength(1);
      expect(r.events[0]).toMatchObject({ kind: 'rejected', outcome: '-EFAULT' });
      expect(r.events[0]!.rule).toMatch(rule);
      expect(r.stats['syscalls']).toBe(2);
    });
  }

  it('select checks its fd_sets as whole 64-bit words: 65 descriptors are 16 bytes', () => {
    const r = sandboxed(patched(new Asm().sys(NR.select, 65, RUNTIME_TEXT - 8, 0, 0, 0).exitWithErrno()));
    expect(r.exitCode).toBe(14);
    expect(r.events[0]!.rule).toBe("readfds [0x6ffffff8, +16) leaves the program's ELF window");
  });

  it('getsockname whose buffer, as long as *addrlen says, runs into the runtime is -EFAULT', () => {
    // *addrlen = 0x1000 on the stack; the buffer ends 8 bytes below the runtime's code.
    const r = sandboxed(patched(new Asm().raw(0x68, 0x00, 0x10, 0x00, 0x00).sys(NR.getsockname, 3, RUNTIME_TEXT - 8, { reg: RSP }).exitWithErrno()));
    expect(r.exitCode).toBe(14);
    expect(r.events[0]!.rule).toBe("addr [0x6ffffff8, +4096) leaves the program's ELF window");
  });
});

describe.runIf(existsSync(HELLO))('sandbox: the FS base', () => {
  it('arch_prctl(ARCH_SET_FS) sets the ring-3 FS base: %fs:0 reads what the program put there', () => {
    // rbx = rsp - 0x100; [rbx] = 42; arch_prctl(ARCH_SET_FS, rbx); exit_group(%fs:0)
    const a = new Asm().movReg(3, RSP).sub(3, 0x100).raw(0x48, 0xc7, 0x03, 42, 0, 0, 0)
      .sys(NR.arch_prctl, 0x1002, { reg: 3 })
      .raw(0x64, 0x48, 0x8b, 0x3c, 0x25, 0, 0, 0, 0) // mov rdi, fs:[0]
      .mov(RAX, NR.exit_group).raw(0x0f, 0x05);
    expect(sandboxed(patched(a)).exitCode).toBe(42);
  });

  it('ARCH_SET_GS is refused (GS is the runtime\'s), ARCH_SET_FS with a kernel address is -EPERM', () => {
    let r = sandboxed(patched(new Asm().sys(NR.arch_prctl, 0x1001, 0x1000).exitWithErrno()));
    expect(r.exitCode).toBe(1);
    expect(r.events[0]).toMatchObject({ kind: 'denied', rule: "the GS base is the runtime's (libDune's per-CPU area)" });
    r = sandboxed(patched(new Asm().sys(NR.arch_prctl, 0x1002, KERNEL).exitWithErrno()));
    expect(r.exitCode).toBe(1);
  });
});

describe.runIf(existsSync(HELLO))('sandbox containment: the Dune device', () => {
  it("an ioctl on libDune's /dev/dune descriptor (DUNE_ENTER) is -ENOTTY: only the known tty requests pass", () => {
    const r = sandboxed(patched(new Asm().sys(NR.ioctl, 3, 0x80b0_e901, { reg: RSP }).exitWithErrno()));
    expect(r.exitCode).toBe(25);
    expect(r.events[0]).toMatchObject({ kind: 'rejected', outcome: '-ENOTTY' });
    expect(r.events[0]!.attempted).toMatch(/^ioctl\(3, 0x80b0e901, 0x7fff[0-9a-f]+\)$/);
    expect(r.events[0]!.rule).toBe('ioctl request 0x80b0e901 is not one the sandbox knows (TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX)');
  });
});

describe.runIf(existsSync(HELLO))('sandbox containment: the Dune device, by path', () => {
  it('open("/dev/dune") is -EACCES whatever the policy (the null one here)', () => {
    const r = sandboxed(patched(new Asm().sys(NR.open, { str: 'p' }, 2, 0).exitWithErrno().string('p', '/dev/../dev/dune')));
    expect(r.exitCode).toBe(13);
    expect(r.events[0]).toEqual({ kind: 'denied', attempted: 'open("/dev/../dev/dune", 2, 0)', rule: "/dev/dune is the runtime's device", outcome: '-EACCES' });
  });
});

describe.runIf(existsSync(HELLO))('sandbox containment: memory calls', () => {
  it('mmap over the runtime is refused (-EPERM)', () => {
    const r = sandboxed(patched(new Asm().sys(NR.mmap, RUNTIME_TEXT, 4096, PROT_RW, MAP_PRIVATE_ANON | MAP_FIXED, -1, 0).exitWithErrno()));
    expect(r.exitCode).toBe(1);
    expect(r.events[0]).toEqual({
      kind: 'denied', attempted: 'mmap(0x70000000, 4096, 3, 50, -1, 0)',
      rule: '[0x70000000, +4096) is not the program\'s memory: mmap over the runtime', outcome: '-EPERM',
    });
  });

  it("mprotect of libDune's page pool and munmap of libDune's code are refused (-EPERM)", () => {
    let r = sandboxed(patched(new Asm().sys(NR.mprotect, POOL, 4096, 7).exitWithErrno()));
    expect(r.exitCode).toBe(1);
    expect(r.events[0]!.rule).toBe("[0xc0000000, +4096) is not the program's memory: mprotect of runtime memory");
    r = sandboxed(patched(new Asm().sys(NR.munmap, LIBDUNE_TEXT, 4096).exitWithErrno()));
    expect(r.exitCode).toBe(1);
  });

  it('memory it maps is usable from ring 3: mmap, write, mprotect read-only, write again is a #PF', () => {
    // p = mmap(0, 8192, RW); p[0] = 1 (mov [rax], al); mprotect(p, 8192, PROT_READ); p[0] = 2.
    const a = new Asm().sys(NR.mmap, 0, 8192, PROT_RW, MAP_PRIVATE_ANON, -1, 0)
      .raw(0x48, 0x89, 0xc3) // mov rbx, rax
      .raw(0xc6, 0x03, 0x01) // mov byte [rbx], 1
      .sys(NR.mprotect, { reg: 3 }, 8192, 1)
      .raw(0xc6, 0x03, 0x02) // mov byte [rbx], 2
      .sys(NR.exit_group, 0);
    const r = sandboxed(patched(a));
    expect(r.exitCode).toBe(139);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]!.rule).toMatch(/^write to 0x7ff[0-9a-f]+ \(the program's mmap and stack window\): the page is supervisor-only or read-only for ring 3$/);
  });

  it('a huge allocation under limits.memory is -ENOMEM, and a small one still works', () => {
    const pol = policy({ limits: { memory: 16 << 20 } });
    let r = sandboxed(patched(new Asm().sys(NR.mmap, 0, 1 << 30, PROT_RW, MAP_PRIVATE_ANON, -1, 0).exitWithErrno()), { policy: pol });
    expect(r.exitCode).toBe(12);
    expect(r.events).toEqual([{
      kind: 'denied', attempted: `mmap(0, ${'0x40000000'}, 3, 34, -1, 0)`,
      rule: 'limits.memory 16777216 bytes (0 in use, 1073741824 more asked)', outcome: '-ENOMEM',
    }]);
    r = sandboxed(patched(new Asm().sys(NR.mmap, 0, 1 << 20, PROT_RW, MAP_PRIVATE_ANON, -1, 0).sys(NR.munmap, { reg: RAX }, 1 << 20).exitWithErrno()), { policy: pol });
    expect(r.exitCode).toBe(0);
    expect(r.events).toEqual([]);
  });

  it('a brk past limits.memory fails as brk fails (the old break comes back)', () => {
    const pol = policy({ limits: { memory: 1 << 20 } });
    // b = brk(0); r = brk(b + 64 MiB); exit(r == b ? 7 : 8)
    const a = new Asm().sys(NR.brk, 0).raw(0x48, 0x89, 0xc3) // rbx = b
      .raw(0x48, 0x8d, 0xbb, 0x00, 0x00, 0x00, 0x04) // lea rdi, [rbx + 64 MiB]
      .mov(RAX, NR.brk).raw(0x0f, 0x05)
      .raw(0x48, 0x39, 0xd8) // cmp rax, rbx
      .mov(7, 8).raw(0x75, 0x05).raw(0xbf, 0x07, 0, 0, 0) // jne +5; mov edi, 7
      .mov(RAX, NR.exit_group).raw(0x0f, 0x05);
    const r = sandboxed(patched(a), { policy: pol });
    expect(r.exitCode).toBe(7);
    expect(r.events[0]!.kind).toBe('denied');
    expect(r.events[0]!.rule).toBe('limits.memory 1048576 bytes (0 in use, 67108864 more asked)');
  });
});

describe.runIf(existsSync(HELLO))('sandbox containment: files', () => {
  const withRoot = (f: (root: string) => void): void => {
    const root = mkdtempSync(join(tmpdir(), 'dunesim-files-'));
    try {
      mkdirSync(join(root, 'data'));
      mkdirSync(join(root, 'etc'));
      mkdirSync(join(root, 'secret'));
      writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
      writeFileSync(join(root, 'data', 'notes'), 'notes\n');
      writeFileSync(join(root, 'secret', 'key'), 'hunter2\n');
      symlinkSync('../secret', join(root, 'data', 'link'));
      f(root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
  const pol = policy({ name: 'data only', files: [{ path: '/data', access: 'read-only' }] });
  const open = (p: string, flags = 0): string => patched(new Asm().sys(NR.open, { str: 'p' }, flags, 0).exitWithErrno().string('p', p));

  it('open("../../etc/passwd") under a rule for /data is -EACCES: .. is applied before the rules', () => {
    withRoot((root) => {
      const r = sandboxed(open('../../etc/passwd'), { policy: pol, root });
      expect(r.exitCode).toBe(13);
      expect(r.events).toEqual([{
        kind: 'denied', attempted: 'open("../../etc/passwd", 0, 0)',
        rule: 'files: ../../etc/passwd is /etc/passwd; no files rule covers /etc/passwd', outcome: '-EACCES',
      }]);
      expect(r.messages).toContain('sandbox: denied open("../../etc/passwd", 0, 0): files: ../../etc/passwd is /etc/passwd; no files rule covers /etc/passwd → -EACCES\n');
    });
  });

  it('/data/../etc/passwd is /etc/passwd as well; /data/notes opens (fd 4: libDune holds /dev/dune as 3)', () => {
    withRoot((root) => {
      expect(sandboxed(open('/data/../etc/passwd'), { policy: pol, root }).exitCode).toBe(13);
      const r = sandboxed(patched(new Asm().sys(NR.open, { str: 'p' }, 0, 0).exitWithResult().string('p', '/data/notes')), { policy: pol, root });
      expect(r.exitCode).toBe(4);
      expect(r.events).toEqual([]);
    });
  });

  it('a symlink inside /data that leads to /secret is -EACCES', () => {
    withRoot((root) => {
      const r = sandboxed(open('/data/link/key'), { policy: pol, root });
      expect(r.exitCode).toBe(13);
      expect(r.events[0]!.rule).toBe('files: /data/link/key leads to /secret/key through a symlink; no files rule covers /secret/key');
    });
  });

  it('writing under a read-only rule is -EACCES', () => {
    withRoot((root) => {
      const r = sandboxed(open('/data/notes', 0o1), { policy: pol, root }); // O_WRONLY
      expect(r.exitCode).toBe(13);
      expect(r.events[0]!.rule).toBe('files: files[0] (/data, read-only) does not allow writing /data/notes');
    });
  });
});

describe.runIf(existsSync(HELLO))('sandbox containment: limits and lists', () => {
  it('an endless loop under limits.cycles is killed (SIGKILL) with a report', () => {
    const r = sandboxed(patched([0xeb, 0xfe]), { policy: policy({ limits: { cycles: 2_000_000 } }) }); // jmp $
    expect(r.exitCode).toBe(137);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ kind: 'killed', rule: 'limits.cycles 2000000', outcome: 'killed by SIGKILL' });
    expect(r.events[0]!.attempted).toMatch(/^running on at rip 0x[0-9a-f]+ \(ring 3\) after 2\d{6} cycles$/);
    expect(r.messages).toContain('guest killed by signal 9 (SIGKILL)');
  });

  it('an endless loop under limits.instructions is killed too', () => {
    const r = sandboxed(patched([0xeb, 0xfe]), { policy: policy({ limits: { instructions: 500_000 } }) });
    expect(r.exitCode).toBe(137);
    expect(r.events[0]).toMatchObject({ kind: 'killed', rule: 'limits.instructions 500000' });
  });

  it('an unknown system call (fork) is -ENOSYS, or -EPERM as the policy says: no fork bombs', () => {
    let r = sandboxed(patched(new Asm().sys(NR.fork).exitWithErrno()));
    expect(r.exitCode).toBe(38);
    expect(r.events[0]).toEqual({
      kind: 'denied', attempted: 'fork(0x0, 0x0, 0x0, …) [system call 57]',
      rule: 'the sandbox has no argument table for it (unknown calls are denied: unknownSyscalls)', outcome: '-ENOSYS',
    });
    r = sandboxed(patched(new Asm().sys(NR.fork).exitWithErrno()), { policy: policy({ unknownSyscalls: 'EPERM' }) });
    expect(r.exitCode).toBe(1);
  });

  it('syscalls.deny and syscalls.allow deny with -EPERM; exit is always allowed', () => {
    let r = sandboxed(patched(new Asm().sys(NR.getpid).exitWithErrno()), { policy: policy({ syscalls: { deny: ['getpid'] } }) });
    expect(r.exitCode).toBe(1);
    expect(r.events[0]).toMatchObject({ attempted: 'getpid()', rule: 'syscalls.deny lists it', outcome: '-EPERM' });
    r = sandboxed(patched(new Asm().sys(NR.getpid).exitWithErrno()), { policy: policy({ syscalls: { allow: ['write'] } }) });
    expect(r.exitCode).toBe(1);
    expect(r.events[0]).toMatchObject({ rule: 'not in syscalls.allow' });
  });

  it('limits.openFiles: the second open is -EMFILE', () => {
    const a = new Asm().sys(NR.open, { str: 'p' }, 0, 0).sys(NR.open, { str: 'p' }, 0, 0).exitWithErrno().string('p', '/');
    const r = sandboxed(patched(a), { policy: policy({ limits: { openFiles: 1 } }) });
    expect(r.exitCode).toBe(24);
    expect(r.events[0]).toMatchObject({ rule: 'limits.openFiles 1 (1 open)', outcome: '-EMFILE' });
  });

  it('a trapped system call never leaves the guest: 100 denied getpids, one VMCALL (the runtime\'s exit_group)', () => {
    // ebx = 100; L: getpid; dec ebx; jnz L; exit_group(0)
    const a = new Asm().mov(3, 100).label('L').mov(RAX, NR.getpid).raw(0x0f, 0x05).raw(0xff, 0xcb).jnz('L').sys(NR.exit_group, 0);
    let r = sandboxed(patched(a), { policy: policy({ syscalls: { deny: ['getpid'] } }) });
    expect(r.exitCode).toBe(0);
    expect((r.stats['sandbox'] as { intercepted: number }).intercepted).toBe(101);
    expect(r.stats['vmExits']).toMatchObject({ Vmcall: 1 });
    expect(r.events).toHaveLength(100);
    // Passed through (null policy): one VMCALL per call.
    r = sandboxed(patched(a));
    expect(r.stats['vmExits']).toMatchObject({ Vmcall: 101 });
  });
});

describe.runIf(existsSync(HELLO))('sandbox containment: the host goes on', () => {
  it('after every hostile program above, a well-behaved one runs in the same test process', () => {
    const r = sandboxed(HELLO, { argv0: 'hello' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Hello, Dune!');
    expect(r.events).toEqual([]);
  });
});
