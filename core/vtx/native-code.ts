import type { Cpu } from './cpu.js';
import { PAGE_SIZE } from './arch.js';
import { PhysicalMemory } from './physical-memory.js';

/**
 * The native-code bridge (docs/architecture.md §1): trusted code written in TypeScript — libDune, plugin
 * runtimes, workloads, the host kernel — lives at guest addresses as a 7-byte stub
 *
 *     0F FF 05 <id:u32>        ud0 eax, [rip + id]
 *
 * UD0 raises #UD on real hardware and disassembles cleanly, so the stub is honest machine code:
 * the CPU fetches it through the MMU (execute permission, NX, U/S, EPT X are all checked), and
 * overwriting it with other bytes removes the native, as self-modifying code should.
 *
 * A native is bound to one place and one privilege level. It runs only when the CPU fetches its
 * stub from the host-physical address it was bound to (`bind`, `install`) at the CPL it was
 * registered for; the same bytes anywhere else, or at another CPL, are what they are on real
 * hardware: UD0, #UD. So guest code cannot forge a call into the kernel, libDune or a runtime by
 * writing a stub with a known id into its own pages, nor run a supervisor native from ring 3.
 * When the frame holding a bound stub returns to the allocator its natives are unbound for good
 * (`releaseFrame`), so a later owner of the frame cannot revive them.
 *
 * A native is one instruction. It runs at the CPU's current privilege level, its memory accesses
 * go through the same MMU (TLB, walks, A/D bits, cycles), and it is charged `instructions` ×
 * the cost of an instruction. Like an instruction it is restartable: a fault or VM exit raised
 * by one of its accesses abandons it, and it runs again from the start once the handler returns
 * to it. So a native does its reads and checks before it commits writes, and keeps long loops as
 * one iteration per execution (jumping to itself), carrying state in registers or memory.
 * If it does not transfer control, execution falls through to the next instruction (RIP + 7).
 */
export type NativeFn = (cpu: Cpu) => void;

/**
 * The privilege level a native runs at: 0 (a kernel, libDune, a runtime) or 3 (a process's code).
 * 'any' is for stand-ins of a program's own code that really runs at both — code after fork()
 * in a Dune process runs in guest ring 0 in the parent and in host ring 3 in the child — and
 * never for code that trusts its caller (entry points, handlers, runtimes, supervisors).
 */
export type NativeCpl = 0 | 3 | 'any';

export interface NativeEntry {
  readonly id: number;
  readonly name: string;
  readonly fn: NativeFn;
  /** Instructions the native stands for (its cost in the model). */
  readonly instructions: number;
  /** The only CPL it runs at. */
  readonly cpl: NativeCpl;
  /** Host-physical address of its stub once bound; -1 before, and -2 after its frame was freed. */
  pa: number;
}

export const NATIVE_STUB_LENGTH = 7;
const STUB_PREFIX = [0x0f, 0xff, 0x05] as const;
const UNBOUND = -1;
const RELEASED = -2;

export class NativeCodeRegistry {
  readonly entries: NativeEntry[] = [];
  /** Entries bound in each frame (by frame number), for `releaseFrame`. */
  private readonly byFrame = new Map<number, NativeEntry[]>();

  register(name: string, fn: NativeFn, instructions = 1, cpl: NativeCpl = 0): NativeEntry {
    if (!(instructions >= 0)) throw new Error(`native '${name}': instructions must be >= 0`);
    if (cpl !== 0 && cpl !== 3 && cpl !== 'any') throw new Error(`native '${name}': cpl must be 0, 3 or 'any'`);
    const entry: NativeEntry = { id: this.entries.length, name, fn, instructions, cpl, pa: UNBOUND };
    this.entries.push(entry);
    return entry;
  }

  /**
   * Writes the stub of `entry` into `into` at `at` (no allocation: a machine's boot writes
   * hundreds of them).
   */
  writeStub(into: Uint8Array, at: number, entry: NativeEntry): void {
    into[at] = STUB_PREFIX[0];
    into[at + 1] = STUB_PREFIX[1];
    into[at + 2] = STUB_PREFIX[2];
    const id = entry.id;
    into[at + 3] = id & 0xff;
    into[at + 4] = (id >>> 8) & 0xff;
    into[at + 5] = (id >>> 16) & 0xff;
    into[at + 6] = id >>> 24;
  }

  /**
   * Binds `entry` to its stub at host-physical `pa` (the caller placed the bytes there). A native
   * has one address at a time: binding it again moves it (a test rig that reuses one stop native
   * behind code of varying length); a native whose frame was freed stays dead.
   */
  bind(entry: NativeEntry, pa: number): void {
    if ((pa & 0xfff) > PAGE_SIZE - NATIVE_STUB_LENGTH) {
      throw new Error(`native '${entry.name}': stub at 0x${pa.toString(16)} would cross a page`);
    }
    if (entry.pa === pa) return;
    if (entry.pa === RELEASED) throw new Error(`native '${entry.name}': its frame was freed`);
    if (entry.pa !== UNBOUND) {
      const old = this.byFrame.get(Math.floor(entry.pa / PAGE_SIZE));
      if (old !== undefined) old.splice(old.indexOf(entry), 1);
    }
    entry.pa = pa;
    const frame = Math.floor(pa / PAGE_SIZE);
    const list = this.byFrame.get(frame);
    if (list === undefined) this.byFrame.set(frame, [entry]);
    else list.push(entry);
  }

  /** Writes the stub of `entry` at physical address `pa` (it must not cross a page) and binds it. */
  install(mem: PhysicalMemory, pa: number, entry: NativeEntry): void {
    if (!mem.contains(pa, NATIVE_STUB_LENGTH)) throw new Error(`native '${entry.name}': stub at 0x${pa.toString(16)} is outside RAM`);
    this.bind(entry, pa);
    this.writeStub(mem.u8, pa, entry);
    mem.hostWriteHook?.(pa, NATIVE_STUB_LENGTH);
  }

  /** The frame at host-physical `pa` went back to the allocator: its natives can never run again. */
  releaseFrame(pa: number): void {
    const frame = Math.floor(pa / PAGE_SIZE);
    const list = this.byFrame.get(frame);
    if (list === undefined) return;
    for (const e of list) e.pa = RELEASED;
    this.byFrame.delete(frame);
  }

  /** Whether a frame holds bound stubs (the allocator asks before it calls `releaseFrame`). */
  hasFrame(pa: number): boolean {
    return this.byFrame.has(Math.floor(pa / PAGE_SIZE));
  }

  /**
   * The native whose stub the CPU fetched at host-physical `pa` while at privilege level `cpl`,
   * or undefined: no stub there, a stub with an unknown id, a stub that is not where its native
   * was bound, or a native of another CPL. In each of those cases the bytes are a plain UD0.
   */
  at(mem: PhysicalMemory, pa: number, cpl: number): NativeEntry | undefined {
    const u8 = mem.u8;
    if (u8[pa] !== 0x0f || u8[pa + 1] !== 0xff || u8[pa + 2] !== 0x05 || (pa & 0xfff) > 0x1000 - NATIVE_STUB_LENGTH) {
      return undefined;
    }
    const e = this.entries[mem.read32(pa + 3)];
    if (e === undefined || e.pa !== pa || (e.cpl !== cpl && e.cpl !== 'any')) return undefined;
    return e;
  }
}
