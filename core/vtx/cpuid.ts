/**
 * CPUID as a declarative table: the feature set the model implements and nothing else, so
 * software that probes features only uses what exists. Identity follows the Dune paper's
 * Xeon E3-1230 v2 (family 6, model 0x3A, stepping 9). The instruction-set bits come from what the
 * interpreter executes (core/vtx/interp/cpuid-features.ts); SSE3 and later, AVX and MMX are not
 * implemented and not advertised.
 */
export interface CpuidLeaf {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
  /** What the bits mean, for `dunesim` documentation. */
  features: string[];
}

import { CPUID_1_ECX, CPUID_1_EDX, CPUID_1_EDX_SIMD, CPUID_7_EBX, CPUID_80000001_ECX, CPUID_80000001_EDX } from './interp/cpuid-features.js';

const str4 = (s: string): number => s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | ((s.charCodeAt(3) << 24) >>> 0);

export function cpuidTable(physBits: number): Map<number, CpuidLeaf> {
  const t = new Map<number, CpuidLeaf>();
  // Leaf 0: highest basic leaf and vendor "GenuineIntel" in EBX, EDX, ECX.
  t.set(0x0, { eax: 0x7, ebx: str4('Genu'), edx: str4('ineI'), ecx: str4('ntel'), features: ['vendor GenuineIntel'] });
  // Leaf 1: family/model/stepping; CLFLUSH line 8×8 bytes in EBX[15:8].
  t.set(0x1, {
    eax: 0x0003_06a9,
    ebx: 0x0000_0800,
    // VMX, PCID (the machine) + CX16, MOVBE, POPCNT (the interpreter).
    ecx: ((1 << 5) | (1 << 17) | CPUID_1_ECX) >>> 0,
    // PAE, PGE (the machine) + FPU, TSC, MSR, CX8, CMOV, CLFSH, FXSR, SSE, SSE2 (the interpreter).
    edx: ((1 << 6) | (1 << 13) | CPUID_1_EDX | CPUID_1_EDX_SIMD) >>> 0,
    features: ['VMX', 'PCID', 'PAE', 'PGE', 'FPU', 'TSC', 'MSR', 'CX8', 'CMOV', 'CLFSH', 'FXSR', 'SSE', 'SSE2', 'CX16', 'MOVBE', 'POPCNT'],
  });
  // SMEP, INVPCID (the machine) + FSGSBASE (the interpreter; an Ivy Bridge feature).
  t.set(0x7, { eax: 0, ebx: ((1 << 7) | (1 << 10) | CPUID_7_EBX) >>> 0, ecx: 0, edx: 0, features: ['FSGSBASE', 'SMEP', 'INVPCID'] });
  t.set(0x8000_0000, { eax: 0x8000_0008, ebx: 0, ecx: 0, edx: 0, features: ['highest extended leaf'] });
  t.set(0x8000_0001, {
    eax: 0,
    ebx: 0,
    ecx: CPUID_80000001_ECX, // LAHF/SAHF in 64-bit mode, ABM (LZCNT)
    edx: ((1 << 11) | (1 << 20) | (1 << 26) | (1 << 29) | CPUID_80000001_EDX) >>> 0, // SYSCALL, NX, 1 GiB pages, LM, RDTSCP
    features: ['SYSCALL/SYSRET', 'NX', 'Page1GB', 'LM', 'RDTSCP', 'LAHF-SAHF', 'LZCNT'],
  });
  t.set(0x8000_0008, { eax: (48 << 8) | physBits, ebx: 0, ecx: 0, edx: 0, features: [`${physBits}-bit physical, 48-bit linear`] });
  return t;
}
