/**
 * Attacks on ring-0 state and on the native-code bridge (plugins/sandbox/SECURITY.md, classes 1
 * and 2), with the programs of test/sandbox/attacks run in every mode. Expected outcomes come
 * from the SDM (segment loads, UD0) and from what native Linux does with the same binary.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execElf } from '../../core/system/index.js';
import type { Kernel } from '../../core/linux/kernel.js';
import { execPtraced } from '../../plugins/sandbox/exec-ptraced.js';
import { execSandboxed } from '../../plugins/sandbox/exec-sandboxed.js';
import { HELLO, ROOT } from './hostile.js';
import { LIBDUNE_TEXT, LibDune, PAGEBASE } from '../../core/dune/libdune.js';
import { PTE_NX_HI, PTE_U, PTE_W } from '../../core/vtx/arch.js';
import { RUNTIME_STACK, RUNTIME_STACK_SIZE, RUNTIME_TEXT } from '../../plugins/sandbox/sandbox-runtime.js';
import { SANDBOX_POOL_PAGES, SandboxLauncher } from '../../plugins/sandbox/sandbox-launcher.js';
import { NULL_POLICY } from '../../plugins/sandbox/sandbox-policy.js';
import { captured, policy, sandboxed } from './run.js';

const ATTACKS = join(ROOT, 'test', 'sandbox', 'attacks', 'bin');
const GS = join(ATTACKS, 'lead-gs');
const FORGE = join(ATTACKS, 'lead-forge');
/** /data read-only and nothing else: an open of /etc/passwd is denied. */
const DATA_ONLY = policy({ name: 'data-only', files: [{ path: '/data', access: 'read-only' }] });

function inMode(mode: 'linux' | 'dune', path: string, args: string[]): { exitCode: number; stdout: string; messages: string } {
  const { result, stdout, messages } = captured((p, a, o) => execElf(p, a, { ...o, mode }), path, { args });
  return { exitCode: result.exitCode, stdout, messages };
}

function ptraced(path: string, args: string[]): { exitCode: number; stdout: string; messages: string; kernel: Kernel } {
  const { result, stdout, messages } = captured(execPtraced, path, { args, policy: DATA_ONLY });
  // The supervisor's kernel: where its natives were registered.
  const kernel = (result.launcher.supervisor as unknown as { kernel: Kernel }).kernel;
  return { exitCode: result.exitCode, stdout, messages, kernel };
}

const SIGILL_EXIT = 128 + 4;
const SIGSEGV_EXIT = 128 + 11;

describe('class 1: ring 3 cannot redirect the per-CPU state ring 0 trusts', () => {
  it('sandbox and ptrace: after MOV GS (base 0) the denied open is still denied, and the call returns at CPL 3', () => {
    const s = sandboxed(GS, { args: ['redirect'], policy: DATA_ONLY });
    expect(s.stdout).not.toContain('ESCAPED');
    // Page 0 cannot be mapped (vm.mmap_min_addr), and even the GS base 0 is never read by ring 0.
    expect(s.stdout).toContain('mmap at 0: -1\n'); // -EPERM
    expect(s.stdout).toContain('mremap to 0: -1\n'); // -EPERM
    // The kernel itself refuses page 0 both ways (vm.mmap_min_addr), not only the sandbox.
    const l = inMode('linux', GS, ['redirect']);
    expect(l.stdout).toContain('mmap at 0: -1\n');
    expect(l.stdout).toContain('mremap to 0: -1\n');
    expect(s.stdout).toContain('held open after mov gs: -13, CPL 3'); // -EACCES from the policy
    expect(s.stdout).toContain('held getpid ok');
    expect(s.exitCode).toBe(0);
    const t = ptraced(GS, ['redirect']);
    expect(t.stdout).not.toContain('ESCAPED');
    expect(t.stdout).toContain('held open after mov gs: -13, CPL 3');
  });

  it('a kernel data selector in DS and a null SS at CPL 3 are #GP (SIGSEGV) in linux and sandbox modes, as natively', () => {
    for (const what of ['kernelds', 'nullss']) {
      expect(inMode('linux', GS, [what]).exitCode).toBe(SIGSEGV_EXIT);
      const s = sandboxed(GS, { args: [what] });
      expect(s.stdout).not.toContain('ESCAPED');
      expect(s.exitCode).toBe(SIGSEGV_EXIT);
    }
    // A Dune process runs in guest ring 0, where a null SS is legal (RPL 0 = CPL 0) but the
    // kernel data selector with RPL 3 is still #GP (RPL > DPL): libDune's fatal-exception path.
    const d = inMode('dune', GS, ['kernelds']);
    expect(d.stdout).not.toContain('ESCAPED');
    expect(d.exitCode).not.toBe(0);
  });

  it('the user data selector loads at CPL 3 and reads back (linux and sandbox)', () => {
    expect(inMode('linux', GS, ['userds']).stdout).toBe('ds=0x2b fs=0x2b\n');
    expect(sandboxed(GS, { args: ['userds'] }).stdout).toBe('ds=0x2b fs=0x2b\n');
  });
});

describe('class 2: a forged native stub is UD0 (#UD), wherever it comes from', () => {
  it('linux: 320 forged ids (the kernel\'s entry points and handlers among them) each kill their child with SIGILL', () => {
    const r = inMode('linux', FORGE, ['0', '320']);
    expect(r.stdout).not.toContain('ESCAPED');
    expect(r.stdout).toContain('forged stubs: 320, SIGILL: 320, other: 0');
    expect(r.exitCode).toBe(0);
  });

  it('sandbox: stubs of the kernel, libDune and the runtime forged in ring 3 are #UD; the program dies of SIGILL', () => {
    const first = sandboxed(FORGE, { args: ['0'], policy: DATA_ONLY });
    expect(first.exitCode).toBe(SIGILL_EXIT);
    const natives = first.result.launcher.lib!.kernel.machine.natives.entries;
    const wanted = [
      'entry_SYSCALL_64', 'vmx_handle_exit', 'libdune:__dune_syscall', 'libdune:__dune_syscall+vmcall', 'libdune:syscall_g3',
      'libdune:syscall_g3_exit', 'libdune:__dune_intr_done', 'sandbox:start', 'sandbox:kcall', 'sandbox:kcall_done',
      'sandbox:kcall_fell_through', 'sandbox:init',
    ];
    for (const name of wanted) {
      const e = natives.find((x) => x.name === name);
      expect(e, name).toBeDefined();
      const r = sandboxed(FORGE, { args: [String(e!.id)], policy: DATA_ONLY });
      expect(r.stdout, name).not.toContain('ESCAPED');
      expect(r.messages, name).not.toMatch(/internal error|TypeError|continuation/);
      expect(r.exitCode, name).toBe(SIGILL_EXIT);
    }
  });

  it('ptrace: the supervisor\'s own natives forged in the tracee are #UD; the tracee dies of SIGILL and the policy still holds', () => {
    const first = ptraced(FORGE, ['0']);
    expect(first.exitCode).toBe(SIGILL_EXIT);
    const sup = first.kernel.machine.natives.entries.filter((e) => e.name.startsWith('ptrace-supervisor') || e.name === 'entry_SYSCALL_64');
    expect(sup.length).toBeGreaterThan(2);
    for (const e of sup) {
      const r = ptraced(FORGE, [String(e.id)]);
      expect(r.stdout, e.name).not.toContain('ESCAPED');
      expect(r.messages, e.name).not.toMatch(/internal error|TypeError|continuation/);
      expect(r.exitCode, e.name).toBe(SIGILL_EXIT);
    }
  });

  it('dune: libDune\'s ring-0 natives forged in the Dune process\'s own pages are #UD too (it dies; nothing runs)', () => {
    const first = captured((p, a, o) => execElf(p, a, { ...o, mode: 'dune' }), FORGE, { args: ['1'] });
    expect(first.stdout).not.toContain('ESCAPED');
    expect(first.result.exitCode).not.toBe(0);
  });
});

describe('the firewall fails closed', () => {
  it('a bind or connect with a NULL or too-short address is refused by the policy step, before the kernel, with the errno Linux gives (both ways)', () => {
    const native = 'held call 0: -14\nheld call 1: -22\nheld call 2: -22\nheld call 3: -14\nheld call 4: -22\n';
    const closed = policy({ name: 'no-network', network: { bind: [], connect: [] } });
    const s = sandboxed(join(ATTACKS, 'lead-bindnull'), { policy: closed });
    expect(s.stdout).toBe(native);
    expect(s.events.filter((e) => e.kind === 'denied' && /no address to judge|too short to judge/.test(e.rule))).toHaveLength(5);
    const { result, stdout } = captured(execPtraced, join(ATTACKS, 'lead-bindnull'), { policy: closed });
    expect(stdout).toBe(native);
    expect(result.launcher.reporter!.events.filter((e) => e.kind === 'denied' && /no address to judge|too short to judge/.test(e.rule))).toHaveLength(5);
  });
});

describe('defence in depth: how the sandbox maps its own memory', () => {
  it('no runtime page is reachable from ring 3; code is never writable and data never executable (NX on the stack, the pool, the IDT and trap stacks)', () => {
    // Inspect the guest page table while the program runs (its first write), not after its exit.
    let launcher!: SandboxLauncher;
    let checked = 0;
    const { result } = captured((p, a, o) => {
      launcher = new SandboxLauncher(NULL_POLICY);
      return execElf(p, a, { ...o, mode: 'sandbox', launcher });
    }, HELLO, { onStdout: () => void (checked++ === 0 && inspect(launcher.lib!)) });
    expect(result.exitCode).toBe(0);
    expect(checked).toBeGreaterThan(0);
  });
});

/** Every present leaf of the runtime's regions in the guest page table: supervisor-only, W^X. */
function inspect(lib: LibDune): void {
  const regions: Array<[string, number, number, 'code' | 'data']> = [
    ['runtime code', RUNTIME_TEXT, RUNTIME_STACK, 'code'],
    ['runtime stack', RUNTIME_STACK, RUNTIME_STACK + RUNTIME_STACK_SIZE, 'data'],
    ["libDune's code", LIBDUNE_TEXT, LIBDUNE_TEXT + 0x10_0000, 'code'],
    ["libDune's pool", PAGEBASE, PAGEBASE + SANDBOX_POOL_PAGES * 4096, 'data'],
  ];
  for (const [name, start, end, kind] of regions) {
    let leaves = 0;
    lib.vmPageWalk(lib.pgroot, start, end, (ptep) => {
      const lo = lib.readEntry(ptep);
      const hi = lib.entHi;
      leaves++;
      expect(lo & PTE_U, name).toBe(0);
      if (kind === 'code') expect(lo & PTE_W, name).toBe(0);
      else expect(hi & PTE_NX_HI, name).not.toBe(0);
    });
    expect(leaves, name).toBeGreaterThan(0);
  }
}
