import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { execElf } from '../../core/system/exec-elf.js';
import type { ExecResult } from '../../core/system/run-elf.js';
import type { Kernel } from '../../core/linux/kernel.js';

/**
 * libDune in C (libdune/): programs linked with libdune.a enter Dune themselves through
 * /dev/dune on a plain `exec` (linux mode: a machine with the Dune module loaded), and run their
 * handlers, the IDT stubs and the SYSCALL trampoline as guest instructions.
 */
const BIN = fileURLToPath(new URL('./libdune-c/bin', import.meta.url));
const canRunNative = process.platform === 'linux' && process.arch === 'x64';

interface Run {
  out: string;
  err: string;
  exitCode: number;
  stats: ExecResult['stats'];
  kernel: Kernel;
}

function run(name: string, args: string[] = [], opts: { duneModule?: boolean; cpus?: number } = {}): Run {
  let out = '';
  let err = '';
  let kernel: Kernel | undefined;
  const dec = new TextDecoder();
  const r = execElf(join(BIN, name), args, {
    mode: 'linux', profile: 'dune-e3-1230v2', memory: 512 << 20, argv0: name, envp: [],
    duneModule: opts.duneModule,
    cpus: opts.cpus,
    configure: (k) => {
      kernel = k;
    },
    console: (fd, data) => {
      if (fd === 1) out += dec.decode(data);
      else err += dec.decode(data);
    },
    report: (line) => {
      err += line;
    },
  });
  return { out, err, exitCode: r.exitCode, stats: r.stats, kernel: kernel! };
}

const exits = (r: Run): Record<string, number> => r.stats.vmExits as Record<string, number>;

describe('libDune in C', () => {
  it('hello: dune_init_and_enter, dune_printf, libc system calls through the trampoline, exit from inside Dune', () => {
    const r = run('hello');
    expect(r.out).toBe([
      'hello from guest ring 0',
      'cs=0x10 cpl=0',
      'cr3 is pgroot: yes',
      'write(2) through the SYSCALL trampoline',
      'printf inside Dune, pid 1',
      'ticks monotonic: yes, grew with work: yes',
      '',
    ].join('\n'));
    expect(r.exitCode).toBe(7);
    // Every system call made inside Dune is a VMCALL exit; the EPT filled in on first touches.
    expect(exits(r).Vmcall).toBeGreaterThanOrEqual(5);
    expect(exits(r).EptViolation).toBeGreaterThan(0);
    expect(r.kernel.machine.stats.get('dune.vcpusCreated')).toBe(1);
    // Nothing of libDune is a TypeScript native: the C library's path is guest instructions.
    expect(r.kernel.machine.natives.entries.filter((e) => e.name.startsWith('libdune')).length).toBe(0);
    // Deterministic: the same run gives the same cycles and counts.
    const again = run('hello');
    expect(again.stats.cycles).toBe(r.stats.cycles);
    expect(again.stats.instructions).toBe(r.stats.instructions);
    expect(exits(again)).toEqual(exits(r));
  });

  it('a page-fault handler maps pages on demand with dune_vm_map_pages; a write to a read-only page is a protection fault', () => {
    const r = run('pgfault');
    expect(r.out).toBe([
      'not-present faults 16, protection faults 8, write faults 16, bad 0',
      'fresh pages read zero: 8 of 8, sum 136, faults after mapping: 0',
      'lookup: 0, present 1, writable 1, user 0, nx 1, from pool 1',
      'lookup beyond: -2',
      '',
    ].join('\n'));
    expect(r.exitCode).toBe(0);
    // The guest's #PFs go to its IDT, not to the module (the exception bitmap has #DB and #BP only).
    expect(exits(r).ExceptionOrNmi).toBeUndefined();
  });

  it('a syscall handler intercepts ring-3 system calls, passes some through, and ring 3 meets #GP and the U bit', () => {
    const r = run('syscall');
    expect(r.out).toBe([
      'ring 3 writes through a passed-through write(2)',
      'ring 3 returned 0: 4 system calls, 2 passed through, 4th argument 9, bad frames 0',
      '#GP from ring 3, error code 0',
      'cli in ring 3 returned -13',
      '#PF from ring 3 at the supervisor page, fec P=1 W=0 U=1',
      'reading a supervisor page from ring 3 returned -14',
      'back in ring 0, printf works',
      '',
    ].join('\n'));
    expect(r.exitCode).toBe(0);
  });

  it('exception handlers read dune_tf as the SDM defines the frames (#DE, #UD, #GP with its error code, #PF)', () => {
    const r = run('trap');
    expect(r.out).toBe([
      '#DE: rip at the divide, err 0: yes; quotient from the handler 12345',
      '#UD: rip at ud2: yes',
      '#GP: rip at the mov: yes, error code 0x48',
      '#PF: rip, cr2 and error code (W, not present, supervisor): yes',
      '',
    ].join('\n'));
    expect(r.exitCode).toBe(0);
  });

  it('INT3 exits to the module (#BP is in the exception bitmap, SDM Vol. 3C §25.2) and DUNE_ENTER returns DUNE_RET_INTERRUPT 3; INT $3 reaches the guest IDT', () => {
    const r = run('breakpoint');
    expect(r.out).toMatch(/^int \$3 reached the guest handler: yes\ndune: exit due to interrupt 3 \(rip 0x[0-9a-f]+\)\n$/);
    expect(r.exitCode).toBe(1);
    expect(exits(r).ExceptionOrNmi).toBe(1);
  });

  it('ring 0 gets its own FS base back after a SYSCALL from ring 3, whatever ring 3 did to FS (nothing, WRFSBASE under CR4.FSGSBASE, a null selector)', () => {
    const r = run('fsbase');
    expect(r.out).toBe([
      "ring 3 leaves FS alone: handler ran 1, FS base the thread's yes, TLS yes",
      "ring 3 WRFSBASEs: handler ran 1, FS base the thread's yes, TLS yes",
      "ring 3 loads a null FS: handler ran 1, FS base the thread's yes, TLS yes",
      "back in ring 0: FS base the thread's yes, TLS yes",
      '',
    ].join('\n'));
    expect(r.exitCode).toBe(0);
  });

  it('dune_vm_page_walk counts and clears PTE_A/PTE_D; a stale dirty TLB entry hides writes until a flush; the dirty harvest', () => {
    const r = run('pagewalk');
    expect(r.out).toBe([
      'mapped: 64 leaves, 0 accessed, 0 dirty',
      'read 32, wrote 16: 32 accessed, 16 dirty',
      'cleared without a flush, wrote 16 again: 0 dirty',
      'after dune_flush_tlb, wrote 16 again: 16 dirty, 16 accessed',
      "a callback's non-zero return stops the walk: 99 after 10 leaves",
      'harvest: 16 dirty pages (pages 0..15), again right after: 0',
      'wrote 6 pages, harvest with room for 4: 4 (in address order), then 2 (the rest)',
      '',
    ].join('\n'));
    expect(r.exitCode).toBe(0);
  });

  it('dune_vm_clone + load_cr3 switch between two roots; PCIDs with CR3_NOFLUSH keep TLB entries', () => {
    const r = run('clone');
    expect(r.out).toBe([
      'clone shares the pool page: yes, its references: 2',
      "pgroot reads 'A', root2 read 0 then wrote 'B', shared page reads 's' in both",
      "pcid 1: root2 'B', pgroot 'A'; after a no-flush switch a stale entry reads 'B', after invlpg 'A'",
      'next pcid 2, freed one comes back: yes',
      "after dune_vm_free the shared page's references: 1",
      '',
    ].join('\n'));
    expect(r.exitCode).toBe(0);
  });

  it('precise mode maps the VMAs of /proc/self/maps without U; later mmaps fault in ring 0; ring 3 cannot fetch the program', () => {
    const r = run('precise');
    expect(r.out).toBe([
      'text: present 1, user 0, writable 0, executable 1',
      'data: present 1, user 0, writable 1, executable 0',
      'mmap after dune_init mapped: no',
      'touched it: 4 ring-0 faults',
      "ring 3 at the program's code: -1, 1 fault, fec P=1 U=1 I=1",
      '',
    ].join('\n'));
    expect(r.exitCode).toBe(0);
    // A few hundred thousand instructions, where full mode writes ~2.9 million PTEs.
    expect(r.stats.instructions as number).toBeLessThan(2_000_000);
  });
});

describe('libDune in C: bad input', () => {
  const beforeInit = [
    'dune_enter before dune_init: -19',
    'dune_page_alloc before dune_init: NULL',
    'dune_vm_map_pages(pgroot): -22',
    'dune_vm_lookup(pgroot): -22',
    'dune_vm_mprotect(pgroot): -22',
    'dune_vm_clone(pgroot): NULL',
    'dune_register_intr_handler(256): -22',
    'dune_register_intr_handler(-1): -22',
    'write to /proc/self/maps: -1, errno 22',
    'open /proc/self/maps for reading: readable',
  ];
  const failed = [...beforeInit, 'dune: failed to open Dune device', 'dune_init failed: -2', ''].join('\n');

  it('calls before dune_init return their documented errors; without the Dune module dune_init fails with -ENOENT', () => {
    const r = run('bad', [], { duneModule: false });
    expect(r.out).toBe(failed);
    expect(r.exitCode).toBe(1);
    const ok = run('bad');
    expect(ok.out).toBe([...beforeInit, 'dune_init: ok', ''].join('\n'));
    expect(ok.exitCode).toBe(0);
  });

  it.runIf(canRunNative)('natively (no Dune module on this host) the same binary prints the same', () => {
    const n = spawnSync(join(BIN, 'bad'), [], { encoding: 'utf8', env: {} });
    expect(`${n.stdout}exit=${n.status}`).toBe(`${failed}exit=1`);
  });

  it('a thread that moves to another CPU takes its vCPU along: no translation cached there on an earlier visit survives (vmx_get_cpu)', () => {
    // On CPU 1 the guest makes a page read-only with a local INVLPG; CPU 0 still caches it
    // writable under the vCPU's VPID unless the migration back flushes that VPID (INVVPID).
    const r = run('migrate', [], { cpus: 2 });
    expect(r.out).toBe('pinned 30 of 30, write faults 10 of 10, value 10, other faults 0\n');
    expect(r.exitCode).toBe(0);
    expect(r.kernel.machine.stats.get('dune.vcpuMigrations')).toBe(20);
    expect(r.kernel.machine.stats.get('dune.vcpusCreated')).toBe(1);
  });

  // Guest ring 0 going wrong ends the process with libDune's or the module's report (exit 1),
  // never a host exception (exit 70).
  const wild: Array<[string, RegExp]> = [
    ['handler', /^dune: exit due to EPT violation \(guest-physical 0x12345, rip 0x12345\)$/m],
    ['jump', /^dune: unhandled page fault at 0x540000000000 \(fec 0x10\)$/m],
    ['nested', /^dune: trap 14 nested 16 deep in ring 0 \(a handler that faults itself\?\)$/m],
    ['triple', /^dune: exit due to unhandled VM exit \(reason 2, rip 0x[0-9a-f]+\)$/m],
    ['vmcall3', /^dune: exit due to unhandled VM exit \(reason 18, rip 0x[0-9a-f]+\)$/m],
    ['missing', /^missing handler for system call - #39$/m],
  ];
  for (const [what, report] of wild) {
    it(`wild ring 0: ${what}`, () => {
      const r = run('wild', [what]);
      expect(r.out).toContain(`in Dune: ${what}\n`);
      expect(r.out).toMatch(report);
      expect(r.out).not.toContain('still running?');
      expect(r.exitCode).toBe(1);
    });
  }
});
