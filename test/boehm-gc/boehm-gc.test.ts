import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { execElf } from '../../core/system/exec-elf.js';
import { System } from '../../core/system/system.js';
import { LinuxExecMode } from '../../core/system/linux-exec-mode.js';
import { DuneExecMode } from '../../core/system/dune-exec-mode.js';
import { UsageError } from '../../core/framework/usage-error.js';
import { GC_PROGRAM_BIN, GC_VARIANTS, GcProgramError, GcRun, GcWorkload, runAppel, runGcProgram } from '../../plugins/boehm-gc/gc-program.js';
import { GcBenchApplication } from '../../plugins/boehm-gc/gc-run-application.js';
import { ROOT } from '../../core/framework/plugin-manifest.js';

/**
 * The collector of plugins/boehm-gc (lib/gc.h) and its four dirty-page layers, on the machine
 * model: the same answers under every layer, the verifier clean after every collection, each
 * layer's mechanism visible in its counts, and the D-bit hazard of SDM Vol. 3A §4.10.4.2.
 */
const PROFILE = 'dune-e3-1230v2';
const TEST_BIN = fileURLToPath(new URL('./programs/bin', import.meta.url));
const canRunNative = process.platform === 'linux' && process.arch === 'x64';

/** Tiny scales: a few collections each, partial ones among them. */
const SMALL: Record<Exclude<GcWorkload, 'xml10'>, number> = { gcbench: 8, linkedlist: 96, hashmap: 192, xml: 48 };

function run(w: GcWorkload, v: (typeof GC_VARIANTS)[number], scale: number, env: Record<string, string> = {}): GcRun {
  return runGcProgram(execElf, PROFILE, w, v, { scale, verify: true, env });
}

describe('boehm-gc: the collector under its four dirty-page layers', () => {
  for (const [w, scale] of Object.entries(SMALL) as [Exclude<GcWorkload, 'xml10'>, number][]) {
    it(`${w}: every variant prints the same result; the verifier checks every collection and finds nothing reachable freed`, () => {
      const runs = GC_VARIANTS.map((v) => run(w, v, scale));
      const [normal] = runs;
      for (const r of runs) {
        expect(r.checksum).toBe(normal!.checksum);
        expect(r.gc.verify_checks).toBe(r.gc.collections);
        expect(r.gc.verify_failures).toBe(0);
        expect(r.stderr).not.toContain('verifier');
        // The same collections under every layer: only the barrier differs.
        expect(r.gc.collections).toBe(normal!.gc.collections);
        expect(r.gc.bytes_allocated).toBe(normal!.gc.bytes_allocated);
      }
      expect(normal!.gc.collections).toBeGreaterThan(normal!.gc.full_collections); // partial ones ran
      const [, dune, tlb, dirty] = runs;
      // Protection: every barrier fault is one page made writable, the same pages under the three
      // layers (the collector never sees a handler's stale frame: gc_entry.S, clear_stack_below).
      expect(normal!.gc.faults).toBeGreaterThan(0);
      expect(dune!.gc.faults).toBe(normal!.gc.faults);
      expect(tlb!.gc.faults).toBe(normal!.gc.faults);
      expect(dune!.gc.heap_size).toBe(normal!.gc.heap_size);
      expect(dirty!.gc.heap_size).toBe(normal!.gc.heap_size);
      // dune: dune_vm_mprotect flushes the whole TLB on every call, the faults' included.
      expect(dune!.gc.tlb_flushes).toBe(dune!.gc.protect_calls);
      expect(dune!.gc.tlb_invlpg).toBe(0);
      // dune-tlb: one INVLPG per fault, one flush per collection's protection pass.
      expect(tlb!.gc.tlb_invlpg).toBe(tlb!.gc.faults);
      expect(tlb!.gc.tlb_flushes).toBeLessThanOrEqual(tlb!.gc.collections);
      // dune-dirty: no protection, no faults; at most one flush per harvest.
      expect(dirty!.gc.faults).toBe(0);
      expect(dirty!.gc.protect_calls).toBe(0);
      expect(dirty!.gc.dirty_pages).toBeGreaterThan(0);
      expect(dirty!.gc.tlb_flushes).toBeLessThanOrEqual(dirty!.gc.collections);
      // The Dune variants really ran inside Dune: their system calls were VMCALL exits.
      for (const r of [dune, tlb, dirty]) expect((r!.stats.vmExits as Record<string, number>).Vmcall).toBeGreaterThan(0);
      expect(Object.keys(normal!.stats.vmExits as Record<string, number>)).toEqual([]);
    });
  }

  it('xml10: ten documents, the counts kept across them, the same under every variant', () => {
    const a = runGcProgram(execElf, PROFILE, 'xml10', 'normal', { scale: 8, verify: true });
    const b = runGcProgram(execElf, PROFILE, 'xml10', 'dune-dirty', { scale: 8, verify: true });
    expect(b.checksum).toBe(a.checksum);
    expect(a.gc.verify_failures + b.gc.verify_failures).toBe(0);
    const one = runGcProgram(execElf, PROFILE, 'xml', 'normal', { scale: 8 });
    expect(a.checksum).not.toBe(one.checksum);
  });

  it.runIf(canRunNative)('the model prints what the same binaries print natively (GC_VARIANT=normal)', () => {
    for (const [w, scale] of Object.entries(SMALL)) {
      const native = spawnSync(join(GC_PROGRAM_BIN, w), [String(scale)], { env: { GC_VARIANT: 'normal' }, encoding: 'utf8' });
      expect(native.status).toBe(0);
      const model = runGcProgram(execElf, PROFILE, w as GcWorkload, 'normal', { scale });
      expect(native.stdout).toContain(`result ${model.checksum}\n`);
      // The collector's own figures too (not the cycles): same heap, same collections.
      for (const k of ['collections', 'bytes_allocated', 'heap_size', 'faults']) {
        expect(native.stdout).toContain(`gc ${k} ${model.gc[k as keyof GcRun['gc']]}\n`);
      }
    }
  });
});

describe('boehm-gc: reading dirty bits needs a TLB flush (SDM Vol. 3A §4.8, §4.10.4.2)', () => {
  function dbit(variant: string, noFlush: boolean): { out: string; exitCode: number } {
    let out = '';
    const dec = new TextDecoder();
    const r = execElf(join(TEST_BIN, 'dbit'), [], {
      mode: 'linux', profile: PROFILE, memory: 512 << 20, argv0: 'dbit',
      envp: [`GC_VARIANT=${variant}`, 'GC_VERIFY=1', ...(noFlush ? ['GC_HARVEST_WITHOUT_FLUSH=1'] : [])],
      console: (_fd, d) => {
        out += dec.decode(d);
      },
      report: (l) => {
        out += l;
      },
    });
    return { out, exitCode: r.exitCode };
  }

  it('clearing D without a flush: the cached dirty translation lets the next store through without D, the page is missed and a reachable object freed', () => {
    const r = dbit('dune-dirty', true);
    expect(r.exitCode).toBe(0);
    expect(r.out).toContain('gc: verifier: collection 3 would free 1 reachable objects');
    expect(r.out).toContain('variant dune-dirty: partial collections 2, dirty pages 0, verifier failures 1, new object survived: no');
  });

  it('the real harvest (dune_vm_harvest_dirty) flushes once: the same store sets D and the object survives; so under every variant', () => {
    for (const v of GC_VARIANTS) {
      const r = dbit(v, false);
      expect(r.exitCode).toBe(0);
      expect(r.out).toBe(`variant ${v}: partial collections 2, dirty pages 2, verifier failures 0, new object survived: yes\n`);
    }
  });
});

describe('boehm-gc: bad input', () => {
  it('an unknown GC_VARIANT, a bad scale, a Dune variant without the Dune module: a message and a status, no stack trace', () => {
    const bad = (env: string[], args: string[] = [], duneModule?: boolean) => {
      let out = '';
      const dec = new TextDecoder();
      const r = execElf(join(GC_PROGRAM_BIN, 'gcbench'), args, {
        mode: 'linux', profile: PROFILE, memory: 256 << 20, argv0: 'gcbench', envp: env, duneModule,
        console: (_fd, d) => {
          out += dec.decode(d);
        },
        report: (l) => {
          out += l;
        },
      });
      return { out, exitCode: r.exitCode };
    };
    expect(bad(['GC_VARIANT=fast'])).toEqual({ out: "gc: unknown GC_VARIANT 'fast' (normal, dune, dune-tlb or dune-dirty)\n", exitCode: 2 });
    expect(bad(['GC_VARIANT=normal'], ['9x']).exitCode).toBe(2);
    expect(bad(['GC_VARIANT=normal', 'GC_MAXIMUM_HEAP_SIZE=12'], ['8']).out).toContain('GC_MAXIMUM_HEAP_SIZE=\'12\' is not a number of bytes');
    const noDune = bad(['GC_VARIANT=dune'], ['8'], false);
    expect(noDune.exitCode).toBe(1);
    expect(noDune.out).toContain('gc: GC_VARIANT=dune needs the Dune module: entering Dune failed (-2)');
    // A heap too small for the workload: out of memory, said so.
    const oom = bad(['GC_VARIANT=normal', 'GC_MAXIMUM_HEAP_SIZE=1048576'], ['2']);
    expect(oom.exitCode).toBe(1);
    expect(oom.out).toContain('gc: out of memory');
  });

  it('dunesim run boehm-gc/linkedlist --variant dune-tlb, end to end through the plugin container', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'dunesim.js'), 'run', 'boehm-gc/linkedlist', '--variant', 'dune-tlb', '--scale', '32'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^linkedlist under dune-tlb: result [0-9]+, [0-9.]+ ms/);
    expect(r.stdout).toMatch(/tlb_invlpg\s+│\s+[1-9]/);
  });

  it('run boehm-gc/gcbench refuses an unknown variant and prints the figures of a known one', () => {
    const system = new System([new LinuxExecMode([]), new DuneExecMode([])], []);
    const app = new GcBenchApplication(system);
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += String(d)));
    expect(() => app.run({ options: { variant: 'fast' }, profile: PROFILE, out })).toThrow(UsageError);
    const r = app.run({ options: { variant: 'dune-tlb', scale: '8' }, profile: PROFILE, out });
    expect(r.exitCode).toBe(0);
    expect(r.figures!.tlb_invlpg).toBe(r.figures!.faults);
    // Deterministic: the same run, the same cycles and counts.
    const again = app.run({ options: { variant: 'dune-tlb', scale: '8' }, profile: PROFILE, out: new PassThrough() });
    expect(again.figures).toEqual(r.figures);
    expect(text).toMatch(/^gcbench under dune-tlb: result [0-9]+, [0-9.]+ ms/);
    expect(() => runGcProgram(execElf, PROFILE, 'gcbench', 'normal', { scale: 99 })).toThrow(GcProgramError);
  });
});

describe('boehm-gc: Appel & Li\'s primitives (programs/appel.c)', () => {
  it('each primitive as a Linux process and inside Dune: the hardware paths are cheaper, the batch is not', () => {
    const linux = runAppel(execElf, PROFILE, 'linux', 30).rows;
    const dune = runAppel(execElf, PROFILE, 'dune', 30).rows;
    for (const id of ['trap', 'prot1', 'protn', 'unprot', 'dirty']) {
      expect(linux.get(id)!.cycles).toBeGreaterThan(0);
      expect(dune.get(id)!.cycles).toBeGreaterThan(0);
    }
    // A #PF delivered in ring 0 against a SIGSEGV; a PTE write and INVLPG against a system call.
    expect(dune.get('trap')!.cycles * 3).toBeLessThan(linux.get('trap')!.cycles);
    expect(dune.get('prot1')!.cycles * 5).toBeLessThan(linux.get('prot1')!.cycles);
    expect(dune.get('dirty')!.cycles * 3).toBeLessThan(linux.get('dirty')!.cycles);
    // Per page, a 100-page mprotect is a walk either way: no order of magnitude between them.
    expect(dune.get('protn')!.cycles).toBeLessThan(linux.get('protn')!.cycles * 3);
    expect(linux.get('protn')!.cycles).toBeLessThan(dune.get('protn')!.cycles * 3);
    // MAP2: Dune maps the frame again; the Linux model refuses mremap(old_size 0), so no row.
    expect(dune.get('map2')!.cycles).toBeGreaterThan(0);
    expect(linux.has('map2')).toBe(false);
  });

  it.runIf(canRunNative)('natively, Linux has MAP2 too (mremap of a shared mapping)', () => {
    const r = spawnSync(join(GC_PROGRAM_BIN, 'appel'), ['linux', '-n', '20'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^row map2 [0-9.]+ 20$/m);
  });
});
