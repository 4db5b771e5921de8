import { GD_KD, GD_KT, GD_TSS, LARGE_PAGE_SIZE, PAGE_SIZE, PTE_G, PTE_NX_HI, PTE_P, PTE_U, PTE_W } from './arch.js';
import { Cpu } from './cpu.js';
import { GDT_SIZE, writeGdt, writeIdtGate, writeTss, GateOptions } from './descriptors.js';
import { Machine } from './machine.js';
import { NATIVE_STUB_LENGTH, NativeEntry, NativeFn } from './native-code.js';
import { PageTables } from './page-tables.js';

/**
 * What firmware and an early kernel leave behind, so a CPU can run 64-bit code: a direct map of
 * all physical memory (2 MiB pages, supervisor, global; at linear == physical by default, or at
 * Linux's PAGE_OFFSET), a GDT in libDune's
 * layout, a TSS with RSP0 and IST1 stacks, an empty IDT, and long mode with paging, NX and
 * (optionally) PCIDs. Everything is bytes in emulated memory; the CPU loads it with LGDT, LIDT
 * and LTR like real code would.
 */
export class LongModeBoot {
  readonly pt: PageTables;
  readonly gdt: number;
  readonly idt: number;
  readonly tss: number;
  /** Top of the ring-0 stack (TSS.RSP0). */
  readonly kernelStackTop: number;
  /** Top of the IST1 stack (used for #DF). */
  readonly istStackTop: number;
  private codePage = -1;
  private codeOffset = 0;

  /** Linear address of physical address 0 in the direct map. */
  readonly directMapBase: number;

  /**
   * Each CPU's GDT, TSS and stacks (index = CPU; entry 0 is `gdt`, `tss`, `kernelStackTop`,
   * `istStackTop`). LTR marks the TSS descriptor busy and LTR of a busy TSS raises #GP (SDM
   * Vol. 2A, LTR), so CPUs cannot share one TSS descriptor: each gets its own, as on Linux.
   */
  readonly cpuTables: Array<{ gdt: number; tss: number; kernelStackTop: number; istStackTop: number }> = [];

  constructor(
    readonly machine: Machine,
    opts: {
      pcid?: boolean;
      directMapGlobal?: boolean;
      /** Where the direct map starts: 0 (firmware-style identity) or e.g. Linux's PAGE_OFFSET. */
      directMapBase?: number;
    } = {},
  ) {
    const { mem, frames } = machine;
    const base = (this.directMapBase = opts.directMapBase ?? 0);
    this.pt = new PageTables(mem, frames);
    const g = opts.directMapGlobal === false ? 0 : PTE_G;
    for (let pa = 0; pa < mem.size; pa += LARGE_PAGE_SIZE) {
      this.pt.map(base + pa, pa, PTE_P | PTE_W | g, 0, LARGE_PAGE_SIZE);
    }
    this.gdt = base + frames.alloc();
    this.idt = base + frames.alloc();
    this.tss = base + frames.alloc();
    const stack = base + frames.allocContiguous(4);
    this.kernelStackTop = stack + 2 * PAGE_SIZE;
    this.istStackTop = stack + 4 * PAGE_SIZE;
    writeGdt(mem, this.gdt - base, this.tss);
    writeTss(mem, this.tss - base, [this.kernelStackTop], [this.istStackTop]);
    this.cpuTables.push({ gdt: this.gdt, tss: this.tss, kernelStackTop: this.kernelStackTop, istStackTop: this.istStackTop });
    for (let i = 1; i < machine.cpus.length; i++) {
      const gdt = base + frames.alloc();
      const tss = base + frames.alloc();
      const st = base + frames.allocContiguous(4);
      writeGdt(mem, gdt - base, tss);
      writeTss(mem, tss - base, [st + 2 * PAGE_SIZE], [st + 4 * PAGE_SIZE]);
      this.cpuTables.push({ gdt, tss, kernelStackTop: st + 2 * PAGE_SIZE, istStackTop: st + 4 * PAGE_SIZE });
    }
    for (const cpu of machine.cpus) this.bootCpu(cpu, opts.pcid ?? false);
  }

  /** Puts a CPU in 64-bit mode on these tables, as an early kernel does. */
  bootCpu(cpu: Cpu, pcid: boolean): void {
    const t = this.cpuTables[cpu.index] ?? this.cpuTables[0]!;
    cpu.enterLongMode(this.pt.root, { pcid });
    cpu.lgdt(t.gdt, GDT_SIZE - 1);
    cpu.lidt(this.idt, 256 * 16 - 1);
    cpu.ltr(GD_TSS);
    cpu.cs = GD_KT;
    cpu.ss = GD_KD;
    cpu.setReg(4, t.kernelStackTop);
  }

  /**
   * Registers a native and places its stub in a supervisor code page; returns its address
   * (linear == physical through the direct map).
   */
  native(name: string, fn: NativeFn, instructions = 1): number {
    const entry = this.machine.natives.register(name, fn, instructions);
    return this.place(entry);
  }

  place(entry: NativeEntry): number {
    if (this.codePage < 0 || this.codeOffset + NATIVE_STUB_LENGTH > PAGE_SIZE) {
      this.codePage = this.machine.frames.alloc();
      this.codeOffset = 0;
    }
    const pa = this.codePage + this.codeOffset;
    this.machine.natives.install(this.machine.mem, pa, entry);
    this.codeOffset += 8;
    return this.directMapBase + pa;
  }

  /** Installs an IDT gate to `target` for `vector`. */
  gate(vector: number, target: number, opts?: GateOptions): void {
    writeIdtGate(this.machine.mem, this.idt - this.directMapBase, vector, target, opts);
  }

  /** Physical address of a direct-map linear address. */
  pa(va: number): number {
    return va - this.directMapBase;
  }

  /** Maps a fresh zeroed user page at `va` with extra PTE flags; returns its physical address. */
  userPage(va: number, flags = PTE_P | PTE_W | PTE_U, nx = false): number {
    const pa = this.machine.frames.alloc();
    this.pt.map(va, pa, flags, nx ? PTE_NX_HI : 0);
    return pa;
  }
}
