import type { Cpu } from './cpu.js';
import { PhysicalMemory } from './physical-memory.js';

/**
 * The native-code bridge (DESIGN §1): trusted code written in TypeScript — libDune, plugin
 * runtimes, workloads, the host kernel — lives at guest addresses as a 7-byte stub
 *
 *     0F FF 05 <id:u32>        ud0 eax, [rip + id]
 *
 * UD0 raises #UD on real hardware and disassembles cleanly, so the stub is honest machine code:
 * the CPU fetches it through the MMU (execute permission, NX, U/S, EPT X are all checked), and
 * overwriting it with other bytes removes the native, as self-modifying code should.
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

export interface NativeEntry {
  readonly id: number;
  readonly name: string;
  readonly fn: NativeFn;
  /** Instructions the native stands for (its cost in the model). */
  readonly instructions: number;
}

export const NATIVE_STUB_LENGTH = 7;
const STUB_PREFIX = [0x0f, 0xff, 0x05] as const;

export class NativeCodeRegistry {
  readonly entries: NativeEntry[] = [];

  register(name: string, fn: NativeFn, instructions = 1): NativeEntry {
    if (!(instructions >= 0)) throw new Error(`native '${name}': instructions must be >= 0`);
    const entry: NativeEntry = { id: this.entries.length, name, fn, instructions };
    this.entries.push(entry);
    return entry;
  }

  stubBytes(entry: NativeEntry): Uint8Array {
    const b = new Uint8Array(NATIVE_STUB_LENGTH);
    b.set(STUB_PREFIX);
    new DataView(b.buffer).setUint32(3, entry.id, true);
    return b;
  }

  /** Writes the stub of `entry` at physical address `pa` (it must not cross a page). */
  install(mem: PhysicalMemory, pa: number, entry: NativeEntry): void {
    if ((pa & 0xfff) > 0x1000 - NATIVE_STUB_LENGTH) {
      throw new Error(`native '${entry.name}': stub at 0x${pa.toString(16)} would cross a page`);
    }
    mem.writeBytes(pa, this.stubBytes(entry));
  }

  /** The native whose stub starts at host-physical `pa`, or undefined. */
  at(mem: PhysicalMemory, pa: number): NativeEntry | undefined {
    const u8 = mem.u8;
    if (u8[pa] !== 0x0f || u8[pa + 1] !== 0xff || u8[pa + 2] !== 0x05 || (pa & 0xfff) > 0x1000 - NATIVE_STUB_LENGTH) {
      return undefined;
    }
    return this.entries[mem.read32(pa + 3)];
  }
}
