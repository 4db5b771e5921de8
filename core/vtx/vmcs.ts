import { PhysicalMemory } from './physical-memory.js';
import { VmcsField } from './vmcs-field.js';

/** VMCS revision identifier reported by IA32_VMX_BASIC and required in bytes 0–3 of a region. */
export const VMCS_REVISION_ID = 0x11;

/**
 * The storage layout of a VMCS region in physical memory. The SDM leaves the format to the
 * implementation (Vol. 3C §25.2): bytes 0–3 hold the revision identifier, 4–7 the VMX-abort
 * indicator; dunesim keeps the launch state at byte 8 and each field in an 8-byte slot from byte
 * 16, in the order of the `VmcsField` enum. VMREAD/VMWRITE therefore really read and write
 * emulated memory, and a VMCS survives VMCLEAR/VMPTRLD.
 */
const FIELD_SLOT = new Map<number, number>();
{
  let slot = 0;
  for (const v of Object.values(VmcsField)) {
    if (typeof v === 'number') FIELD_SLOT.set(v, slot++);
  }
}
const FIELDS_OFFSET = 16;
const LAUNCH_STATE_OFFSET = 8;
export const VMCS_REGION_SIZE = 4096;

export function isKnownVmcsField(encoding: number): boolean {
  return FIELD_SLOT.has(encoding);
}

/** Width class of a field from its encoding (bits 14:13). */
export function vmcsFieldWidth(encoding: number): 16 | 64 | 32 | 'natural' {
  const w = (encoding >>> 13) & 3;
  return w === 0 ? 16 : w === 1 ? 64 : w === 2 ? 32 : 'natural';
}

/** Truncates a value to the width of its field, as VMWRITE does. */
function truncate(encoding: number, v: number): number {
  switch (vmcsFieldWidth(encoding)) {
    case 16:
      return v & 0xffff;
    case 32:
      return v >>> 0;
    default:
      return v;
  }
}

/** A view of one VMCS region: values of natural-width and 64-bit fields are JS numbers. */
export class Vmcs {
  constructor(readonly mem: PhysicalMemory, readonly pa: number) {}

  get revisionId(): number {
    return this.mem.read32(this.pa);
  }

  get launched(): boolean {
    return this.mem.read8(this.pa + LAUNCH_STATE_OFFSET) === 1;
  }

  set launched(v: boolean) {
    this.mem.write8(this.pa + LAUNCH_STATE_OFFSET, v ? 1 : 0);
  }

  read(field: VmcsField): number {
    const slot = FIELD_SLOT.get(field);
    if (slot === undefined) throw new Error(`unsupported VMCS field 0x${(field as number).toString(16)}`);
    const a = this.pa + FIELDS_OFFSET + slot * 8;
    const lo = this.mem.read32(a);
    const hi = this.mem.read32(a + 4);
    return (hi | 0) * 0x1_0000_0000 + lo;
  }

  write(field: VmcsField, value: number): void {
    const slot = FIELD_SLOT.get(field);
    if (slot === undefined) throw new Error(`unsupported VMCS field 0x${(field as number).toString(16)}`);
    const v = truncate(field, value);
    const a = this.pa + FIELDS_OFFSET + slot * 8;
    this.mem.write32(a, v >>> 0);
    this.mem.write32(a + 4, Math.floor(v / 0x1_0000_0000) >>> 0);
  }
}
