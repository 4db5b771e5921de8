import { VECTOR_MNEMONIC } from './arch.js';

/**
 * An architectural exception raised while executing an instruction (#PF, #GP, #UD …). It is
 * thrown to abandon the instruction and caught at the instruction boundary, where the CPU
 * delivers it through the IDT (or as a VM exit when the exception bitmap says so).
 *
 * Not an Error subclass: one instance per CPU is reused, so raising costs no allocation and no
 * stack capture.
 */
export class CpuFault {
  vector = 0;
  errorCode = 0;
  hasErrorCode = false;
  /** The faulting linear address, for #PF (becomes CR2). */
  cr2 = 0;

  set(vector: number, errorCode: number, hasErrorCode: boolean, cr2 = 0): this {
    this.vector = vector;
    this.errorCode = errorCode;
    this.hasErrorCode = hasErrorCode;
    this.cr2 = cr2;
    return this;
  }

  toString(): string {
    const name = VECTOR_MNEMONIC[this.vector] ?? `vector ${this.vector}`;
    const ec = this.hasErrorCode ? `(0x${this.errorCode.toString(16)})` : '';
    return this.vector === 14 ? `${name}${ec} at 0x${this.cr2.toString(16)}` : `${name}${ec}`;
  }
}

/** Thrown when VMX root code decides a guest must not resume (ends VMLAUNCH/VMRESUME). */
export class VmxStop {
  constructor(readonly reason: number) {}
}

/** The machine cannot go on (triple fault outside VMX, shutdown). */
export class MachineShutdown extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MachineShutdown';
  }
}
