/**
 * The CPUID feature bits of the instruction groups this interpreter executes, for the owner of
 * core/vtx/cpuid.ts to OR into its table (the model should advertise what it implements and
 * nothing else). The interpreter does not consult CPUID itself: every instruction below runs
 * whether or not the bit is set.
 */

/** Leaf 1 EDX. */
export const CPUID_1_EDX =
  (1 << 0) | // FPU: x87
  (1 << 4) | // TSC
  (1 << 5) | // MSR
  (1 << 8) | // CX8: CMPXCHG8B
  (1 << 15) | // CMOV
  (1 << 19); // CLFSH: CLFLUSH (a no-op). MMX (bit 23) is not implemented.

/** Leaf 1 EDX, continued: FXSR, SSE, SSE2. */
export const CPUID_1_EDX_SIMD = (1 << 24) | (1 << 25) | (1 << 26);

/** Leaf 1 ECX: CX16 (CMPXCHG16B), MOVBE, POPCNT. */
export const CPUID_1_ECX = (1 << 13) | (1 << 22) | (1 << 23);

/** Leaf 0x8000_0001 ECX: LAHF/SAHF in 64-bit mode, ABM (LZCNT). */
export const CPUID_80000001_ECX = (1 << 0) | (1 << 5);

/** Leaf 0x8000_0001 EDX: RDTSCP. */
export const CPUID_80000001_EDX = 1 << 27;

/**
 * Not advertised on purpose: SSE3 and later (SSSE3, SSE4.x: not implemented), AVX (no VEX),
 * BMI1 (TZCNT is implemented but ANDN/BEXTR/BLS* are VEX encoded), XSAVE/OSXSAVE, RDRAND, MMX.
 */
export const NOT_IMPLEMENTED = ['SSE3', 'SSSE3', 'SSE4.1', 'SSE4.2', 'AVX', 'BMI1', 'BMI2', 'XSAVE', 'RDRAND', 'MMX'];

/** Leaf 7 EBX: FSGSBASE (RDFSBASE / WRFSBASE …, usable once CR4.FSGSBASE is set). */
export const CPUID_7_EBX = 1 << 0;
