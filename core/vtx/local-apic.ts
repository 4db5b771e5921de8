/**
 * The local APIC's interrupt-acceptance logic (Intel SDM Vol. 3A §10.8), in x2APIC mode: the
 * 256-bit interrupt request register (IRR: accepted, not yet delivered), the in-service register
 * (ISR: delivered, handler not yet finished), the task-priority register and the processor
 * priority derived from them. An interrupt is delivered when IF allows and its priority class
 * (vector bits 7:4) is above the processor's; delivering moves it from IRR to ISR, and only the
 * handler's EOI takes it out of ISR — until then, interrupts of its class and below wait.
 * A vector already requested is not requested twice: a second IPI of a pending vector merges
 * with the first, as on hardware.
 */
export class LocalApic {
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  /** Task-priority register (bits 7:4 the class, 3:0 the sub-class). */
  tpr = 0;
  /** Requests that arrived while the vector was already pending (merged). */
  merged = 0;
  /** EOIs written with nothing in service (a handler that acknowledged twice). */
  spuriousEois = 0;
  /** Whether any vector is requested (the CPU's per-instruction check reads only this). */
  requested = false;

  /** An interrupt message arrives (a device, the timer, an IPI): sets its IRR bit. */
  request(vector: number): void {
    if (!Number.isInteger(vector) || vector < 16 || vector > 255) throw new RangeError(`interrupt vector ${vector} outside 16..255 (0–15 are illegal for the APIC, SDM §10.5.2)`);
    const w = vector >>> 5;
    const bit = 1 << (vector & 31);
    if ((this.irr[w]! & bit) !== 0) this.merged++;
    this.irr[w]! |= bit;
    this.requested = true;
  }

  private static highest(reg: Uint32Array): number {
    for (let w = 7; w >= 0; w--) {
      const v = reg[w]!;
      if (v !== 0) return w * 32 + 31 - Math.clz32(v);
    }
    return -1;
  }

  /** The highest vector in service, or -1. */
  inService(): number {
    return LocalApic.highest(this.isr);
  }

  /** The highest requested vector, or -1. */
  highestRequested(): number {
    return LocalApic.highest(this.irr);
  }

  /** PPR (§10.8.3.1): the higher of TPR's class and the class in service. */
  processorPriority(): number {
    const isrv = this.inService();
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr & 0xff : isrClass;
  }

  /** The vector the APIC would deliver now (its class above PPR's), or -1. */
  deliverable(): number {
    const v = this.highestRequested();
    if (v < 0) return -1;
    return (v & 0xf0) > (this.processorPriority() & 0xf0) ? v : -1;
  }

  /** INTA: the CPU takes the deliverable vector — from IRR into ISR. */
  acknowledge(): number {
    const v = this.deliverable();
    if (v < 0) return -1;
    this.irr[v >>> 5]! &= ~(1 << (v & 31));
    this.isr[v >>> 5]! |= 1 << (v & 31);
    this.requested = LocalApic.highest(this.irr) >= 0;
    return v;
  }

  /** EOI (§10.8.5): the highest vector in service is finished. */
  eoi(): void {
    const v = this.inService();
    if (v < 0) {
      this.spuriousEois++;
      return;
    }
    this.isr[v >>> 5]! &= ~(1 << (v & 31));
  }

  /** Whether `vector` is requested (tests and traces). */
  isRequested(vector: number): boolean {
    return (this.irr[vector >>> 5]! & (1 << (vector & 31))) !== 0;
  }

  /** Whether `vector` is in service. */
  isInService(vector: number): boolean {
    return (this.isr[vector >>> 5]! & (1 << (vector & 31))) !== 0;
  }
}

/** x2APIC MSRs (SDM Vol. 3A Table 10-6). */
export const MSR_X2APIC_TPR = 0x808;
export const MSR_X2APIC_PPR = 0x80a;
export const MSR_X2APIC_EOI = 0x80b;
export const MSR_X2APIC_ISR0 = 0x810;
export const MSR_X2APIC_IRR0 = 0x820;
