import { injectable } from 'inversify';
import { GD_UD, GD_UT, LARGE_PAGE_SIZE, PAGE_SIZE, PTE_P, PTE_U, PTE_W } from '../../core/vtx/arch.js';
import { LongModeBoot } from '../../core/vtx/boot.js';
import { Cpu, RCX, RSI } from '../../core/vtx/cpu.js';
import { buildMachine } from '../../core/system/build-machine.js';
import { NATIVE_STUB_LENGTH, NativeFn } from '../../core/vtx/native-code.js';

export interface SweepOptions {
  /** Size of the region in 4 KiB pages (rounded up to whole 2 MiB pages with `large`). */
  pages: number;
  /** Map the region with 2 MiB pages instead of 4 KiB ones. */
  large: boolean;
  /** Bytes between two accesses (64: one access per cache line). */
  stride: number;
  /** Passes measured, after one warm-up pass that fills the TLB. */
  passes: number;
  /** Cost profile of the machine. */
  profile: string;
}

export interface SweepResult {
  /** The region as it was mapped, in 4 KiB pages, and the page size used. */
  pages: number;
  pageSize: number;
  accesses: number;
  cycles: number;
  instructions: number;
  tlbMisses: number;
  walks: number;
  walkRefs: number;
}

/** Where the region and the code live: user half, 2 MiB aligned, clear of the boot direct map. */
const REGION = 0x40_0000_0000;
const CODE = 0x10_0000_0000;
const MiB = 1 << 20;

/**
 * The experiment: a region mapped for user mode, swept at CPL 3 by a three-instruction program,
 * counting what the MMU did. With 4 KiB pages a region bigger than the TLB's reach (512 entries
 * × 4 KiB = 2 MiB on the paper's Xeon) misses once per page; with 2 MiB pages the same region
 * needs 512 times fewer entries.
 *
 * A class rather than a function so that the application and the bench suite share it by
 * injection, and someone can rebind a variant (another access pattern) without touching them.
 */
@injectable()
export class TlbSweep {
  run(o: SweepOptions): SweepResult {
    const pageSize = o.large ? LARGE_PAGE_SIZE : PAGE_SIZE;
    const bytes = Math.ceil((o.pages * PAGE_SIZE) / pageSize) * pageSize;
    // Physical memory: the region, plus room for page tables, the boot structures and the code.
    const m = buildMachine({ memory: bytes + 16 * MiB, profile: o.profile });
    const boot = new LongModeBoot(m);
    const cpu = m.cpus[0]!;

    // The region: page-table entries in emulated memory, each page backed by its own frames.
    for (let off = 0; off < bytes; off += pageSize) {
      const pa = o.large ? m.frames.allocContiguous(LARGE_PAGE_SIZE / PAGE_SIZE) : m.frames.alloc();
      boot.pt.map(REGION + off, pa, PTE_P | PTE_W | PTE_U, 0, pageSize);
    }

    // The program, as natives laid out like instructions on a user code page (present, user,
    // read-only): ring-3 code must be fetched from a user page, so boot.native() (a supervisor
    // page) would fault here.
    const codePa = boot.userPage(CODE, PTE_P | PTE_U);
    let placed = 0;
    const place = (name: string, fn: NativeFn, instructions: number): number => {
      const entry = m.natives.register(name, fn, instructions, 3);
      m.natives.install(m.mem, codePa + placed * NATIVE_STUB_LENGTH, entry);
      return CODE + placed++ * NATIVE_STUB_LENGTH;
    };
    const end = REGION + bytes;
    // load:  mov rax, [rsi]; add rsi, stride; cmp rsi, end; jb load
    // The read comes first: a native must be restartable, so it commits nothing before its
    // accesses succeed.
    const load: number = place('tlb-reach.load', (c: Cpu) => {
      const p = c.reg(RSI);
      c.mmu.read64(p); // the access under study: a TLB hit, or a miss and a page walk
      c.setReg(RSI, p + o.stride);
      if (p + o.stride < end) c.jump(load);
    }, 4);
    // pass:  dec rcx; jz done; mov rsi, REGION; jmp load
    place('tlb-reach.pass', (c: Cpu) => {
      const left = c.reg(RCX) - 1;
      c.setReg(RCX, left);
      if (left > 0) {
        c.setReg(RSI, REGION);
        c.jump(load);
      }
    }, 4);
    let finished = false;
    place('tlb-reach.done', (c: Cpu) => {
      finished = true;
      c.stop();
    }, 1);

    // Ring 3, as IRETQ or SYSRET would leave the CPU: CPL 3 and the user selectors. The MMU
    // learns the mode from updateMmuContext, and from then on checks the U bit on every access.
    cpu.cpl = 3;
    cpu.cs = GD_UT;
    cpu.ss = GD_UD;
    cpu.updateMmuContext();

    const sweep = (passes: number): void => {
      finished = false;
      cpu.setReg(RSI, REGION);
      cpu.setReg(RCX, passes);
      cpu.rip = load;
      m.run();
      if (!finished) throw new Error(`tlb-reach: the sweep did not finish (rip 0x${cpu.rip.toString(16)}, halted ${cpu.halted})`);
    };
    const snapshot = (): number[] => [
      cpu.cycles, cpu.instructions, m.stats.get('cpu0.tlb.misses'), m.stats.get('cpu0.mmu.walks'), m.stats.get('cpu0.mmu.walkRefs'),
    ];

    sweep(1); // warm-up: cold misses are not what this measures
    const before = snapshot();
    sweep(o.passes);
    const [cycles, instructions, tlbMisses, walks, walkRefs] = snapshot().map((v, i) => v - before[i]!) as [number, number, number, number, number];
    return {
      pages: bytes / PAGE_SIZE, pageSize, accesses: o.passes * Math.ceil(bytes / o.stride),
      cycles, instructions, tlbMisses, walks, walkRefs,
    };
  }
}
