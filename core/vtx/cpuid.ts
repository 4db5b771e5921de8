/**
 * CPUID as a declarative table: the feature set the model implements and nothing else, so
 * software that probes features only uses what exists. Identity follows the Dune paper's
 * Xeon E3-1230 v2 (family 6, model 0x3A, stepping 9). The interpreter issue extends the table as
 * instruction groups (SSE2, x87 …) land.
 */
export interface CpuidLeaf {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
  /** What the bits mean, for `dunesim` documentation. */
  features: string[];
}

const str4 = (s: string): number => s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | ((s.charCodeAt(3) << 24) >>> 0);

export function cpuidTable(physBits: number): Map<number, CpuidLeaf> {
  const t = new Map<number, CpuidLeaf>();
  // Leaf 0: highest basic leaf and vendor "GenuineIntel" in EBX, EDX, ECX.
  t.set(0x0, { eax: 0x7, ebx: str4('Genu'), edx: str4('ineI'), ecx: str4('ntel'), features: ['vendor GenuineIntel'] });
  // Leaf 1: family/model/stepping; CLFLUSH line 8×8 bytes in EBX[15:8].
  t.set(0x1, {
    eax: 0x0003_06a9,
    ebx: 0x0000_0800,
    ecx: (1 << 5) | (1 << 17), // VMX, PCID
    edx: (1 << 4) | (1 << 5) | (1 << 6) | (1 << 13), // TSC, MSR, PAE, PGE
    features: ['VMX', 'PCID', 'TSC', 'MSR', 'PAE', 'PGE'],
  });
  t.set(0x7, { eax: 0, ebx: 1 << 10, ecx: 0, edx: 0, features: ['INVPCID'] });
  t.set(0x8000_0000, { eax: 0x8000_0008, ebx: 0, ecx: 0, edx: 0, features: ['highest extended leaf'] });
  t.set(0x8000_0001, {
    eax: 0,
    ebx: 0,
    ecx: 0,
    edx: (1 << 11) | (1 << 20) | (1 << 26) | (1 << 29), // SYSCALL, NX, 1 GiB pages, LM
    features: ['SYSCALL/SYSRET', 'NX', 'Page1GB', 'LM'],
  });
  t.set(0x8000_0008, { eax: (48 << 8) | physBits, ebx: 0, ecx: 0, edx: 0, features: [`${physBits}-bit physical, 48-bit linear`] });
  return t;
}
