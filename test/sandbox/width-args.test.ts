/**
 * Class 3 of the sandbox's hardening (plugins/sandbox/security/argument-widths-and-copies.md): the checks and the
 * kernel must read every argument at the width of the kernel's prototype, and the kernel must get
 * the argument buffers the checks judged. test/sandbox/attacks/width-args.c tries garbage in the
 * upper bits of every kind of argument under a policy with file rules, a firewall and limits, in
 * both ways; here: no attack escapes, the runtime's IDT is the same bytes before and after, and
 * the program's last act — a ring-3 #PF on the runtime's stack — still reaches the runtime.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execElf } from '../../core/system/index.js';
import { ArgWidth, SYSCALL_PROTOTYPES, argOf, prototypeOf } from '../../core/linux/syscall-prototypes.js';
import { SyscallTable } from '../../core/linux/syscall-table.js';
import { execPtraced } from '../../plugins/sandbox/exec-ptraced.js';
import { SandboxLauncher } from '../../plugins/sandbox/sandbox-launcher.js';
import { SYSCALL_SPECS, argsOf } from '../../plugins/sandbox/syscall-specs.js';
import { NR } from '../../core/linux/linux-abi.js';
import { ROOT } from './hostile.js';
import { captured, policy } from './run.js';

const ATTACK = join(ROOT, 'test', 'sandbox', 'attacks', 'bin', 'width-args');

const POLICY = policy({
  name: 'width',
  files: [{ path: '/', access: 'read-only' }, { path: '/secret', access: 'none' }],
  network: { connect: [], bind: [] },
  limits: { memory: 16 << 20, openFiles: 4 },
});

function makeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'dunesim-width-'));
  mkdirSync(join(root, 'secret'));
  writeFileSync(join(root, 'secret', 'key'), 'the key\n');
  mkdirSync(join(root, 'pub'));
  writeFileSync(join(root, 'pub', 'file'), 'public\n');
  symlinkSync('file', join(root, 'pub', 'link'));
  return root;
}

/** The files the attacks must not have changed. */
function untouched(root: string): void {
  expect(readFileSync(join(root, 'secret', 'key'), 'utf8')).toBe('the key\n');
  expect(readFileSync(join(root, 'pub', 'file'), 'utf8')).toBe('public\n');
}

function verdicts(stdout: string): { held: number; escaped: string[] } {
  const lines = stdout.split('\n');
  return { held: lines.filter((l) => l.startsWith('held ')).length, escaped: lines.filter((l) => l.startsWith('ESCAPED')) };
}

describe('argument widths: one table for the kernel and the checks', () => {
  it('every row of the sandbox and every call of the kernel model has a prototype of the same arity', () => {
    for (const s of SYSCALL_SPECS) expect(prototypeOf(s.nr)?.args.length, s.name).toBe(s.args.length);
    // SyscallTable.add refuses a call without a prototype, or with another arity.
    const t = new SyscallTable();
    expect(() => t.add(NR.fcntl, 'fcntl', 2, () => 0)).toThrow(/3 in its prototype/);
    expect(() => t.add(999, 'nosuch', 0, () => 0)).toThrow(/no prototype/);
    expect(SYSCALL_PROTOTYPES.length).toBeGreaterThan(100);
  });

  it('reads each argument as SYSCALL_DEFINE casts it, from the exact register halves', () => {
    // fcntl(unsigned int fd, unsigned int cmd, unsigned long arg) with garbage above 32 bits.
    const fcntl = SYSCALL_SPECS.find((s) => s.name === 'fcntl')!;
    const lo = [3, 5, 0x7010_0000, 0, 0, 0];
    const hi = [1, 0xffff_ffff, 0, 0, 0, 0];
    expect(argsOf(fcntl, lo, hi).slice(0, 3)).toEqual([3, 5 /* F_GETLK */, 0x7010_0000]);
    // open(const char *, int flags, umode_t mode): flags sign-extended, mode 16 bits.
    const open = SYSCALL_SPECS.find((s) => s.name === 'open')!;
    expect(argsOf(open, [0x1000, 0x8000_0001, 0x1_01a4], [0, 0x7ff0_0000, 0x7ff0_0000]).slice(0, 3)).toEqual([0x1000, -0x7fff_ffff, 0x1a4]);
    // Above 2^53 a double drops the low bits; the halves keep them.
    expect(argOf(ArgWidth.Int, 0x201, 0x0020_0000)).toBe(0x201);
    expect(argOf(ArgWidth.Uint, 0xffff_ff9c, 0xffff_ffff)).toBe(0xffff_ff9c);
    expect(argOf(ArgWidth.Int, 0xffff_ff9c, 0x1)).toBe(-100);
    expect(argOf(ArgWidth.Long, 0, 0x8000_0000)).toBe(-(2 ** 63));
  });
});

describe('width-args.c: garbage in the upper bits of every argument class', () => {
  it('--mode sandbox: nothing escapes, the files are untouched, the IDT is the same bytes, the runtime still takes the last fault', () => {
    const root = makeRoot();
    const launcher = new SandboxLauncher(POLICY);
    let stdout = '';
    let idtBefore: Uint8Array | undefined;
    let idtAfter: Uint8Array | undefined;
    const idt = (): Uint8Array => {
      // libDune's IDT page (what LIDT loaded), read through the process's memory.
      const lib = launcher.lib!;
      const k = lib.kernel;
      const task = [...k.tasks.values()].find((t) => t.process === lib.process)!;
      return k.copyFromUser(k.machine.cpus[0]!, task, lib.entry.idt, 4096)!;
    };
    try {
      const r = execElf(ATTACK, [], {
        mode: 'sandbox', launcher, profile: 'dune-e3-1230v2', memory: 512 << 20, root, envp: [],
        console: (fd, data) => {
          if (fd !== 1) return;
          stdout += new TextDecoder().decode(data);
          if (idtBefore === undefined) idtBefore = idt().slice();
          if (stdout.includes(' escaped\n') && idtAfter === undefined) idtAfter = idt().slice();
        },
        report: () => {},
      });
      const v = verdicts(stdout);
      expect(v.escaped).toEqual([]);
      expect(stdout).toContain('0 escaped\n');
      expect(v.held).toBeGreaterThan(150);
      untouched(root);
      expect(idtAfter).toEqual(idtBefore);
      // The last fault is the runtime's to report: a ring-3 #PF on its stack, SIGSEGV.
      expect(r.exitCode).toBe(139);
      const events = launcher.reporter!.events;
      expect(events.at(-1)).toMatchObject({ kind: 'contained', outcome: 'killed by SIGSEGV' });
      expect(events.at(-1)!.attempted).toMatch(/^ring-3 #PF/);
      expect(events.filter((e) => e.kind === 'contained')).toHaveLength(1);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('--mode ptrace: nothing escapes and the files are untouched', () => {
    const root = makeRoot();
    try {
      const { result, stdout } = captured(execPtraced, ATTACK, { policy: POLICY, root });
      const v = verdicts(stdout);
      expect(v.escaped).toEqual([]);
      expect(stdout).toContain('0 escaped\n');
      expect(v.held).toBeGreaterThan(100);
      untouched(root);
      expect(result.exitCode).toBe(139);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
