/**
 * Architectural constants of x86-64 and VMX, named as the Intel SDM (and JOS / libDune's
 * mmu-x86.h) name them. Values that live in the high half of a 64-bit entry are given as bits
 * of that half (suffix `_HI`), because page-table entries are read as two 32-bit halves.
 */

// ---- Page-table entries (SDM Vol. 3A §4.5, Tables 4-15..4-20) ---------------------------
export const PTE_P = 0x001;
export const PTE_W = 0x002;
export const PTE_U = 0x004;
export const PTE_PWT = 0x008;
export const PTE_PCD = 0x010;
export const PTE_A = 0x020;
export const PTE_D = 0x040;
/** Page size: a PDPTE (1 GiB) or PDE (2 MiB) maps a page instead of pointing to a table. */
export const PTE_PS = 0x080;
/** In a 4 KiB PTE bit 7 is PAT, not PS. */
export const PTE_PAT = 0x080;
export const PTE_G = 0x100;
/** Bits 9..11 are ignored by the walker and free for software (libDune uses bit 9 as COW). */
export const PTE_AVAIL = 0xe00;
export const PTE_COW = 0x200;
/** Execute-disable, bit 63 (honoured only with EFER.NXE). */
export const PTE_NX_HI = 0x8000_0000;
/** libDune software bits 62..60. */
export const PTE_USR1_HI = 0x4000_0000;
export const PTE_USR2_HI = 0x2000_0000;
export const PTE_USR3_HI = 0x1000_0000;
/** Physical-address bits 12..51: low half mask and high half mask. */
export const PTE_ADDR_LO = 0xffff_f000;
export const PTE_ADDR_HI = 0x000f_ffff;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_MASK = 0xfff;
export const LARGE_PAGE_SIZE = 0x20_0000;
export const HUGE_PAGE_SIZE = 0x4000_0000;

// ---- #PF error code (SDM Vol. 3A §4.7) ------------------------------------------------
export const FEC_P = 0x01;
export const FEC_W = 0x02;
export const FEC_U = 0x04;
export const FEC_RSV = 0x08;
export const FEC_I = 0x10;

// ---- Control registers and EFER (SDM Vol. 3A §2.5, §2.2.1) ----------------------------
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_PG = 0x8000_0000;

export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
export const CR4_OSFXSR = 1 << 9;
export const CR4_OSXMMEXCPT = 1 << 10;
export const CR4_VMXE = 1 << 13;
export const CR4_FSGSBASE = 1 << 16;
export const CR4_PCIDE = 1 << 17;
export const CR4_OSXSAVE = 1 << 18;
/** Supervisor-mode execution prevention: ring 0 cannot fetch from a user page (Ivy Bridge has it). */
export const CR4_SMEP = 1 << 20;
/** Linear addresses are canonical in [-2^47, 2^47) (48-bit linear addresses, SDM Vol. 1 §3.3.7.1). */
export const CANONICAL_LIMIT = 2 ** 47;

/** MOV to CR3 with bit 63 set does not flush the TLB entries of the new PCID (CR4.PCIDE=1). */
export const CR3_NOFLUSH_HI = 0x8000_0000;
export const CR3_PCID_MASK = 0xfff;

export const EFER_SCE = 1 << 0;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;
export const EFER_FFXSR = 1 << 14;

// ---- RFLAGS (SDM Vol. 1 §3.4.3) --------------------------------------------------------
export const RFLAGS_CF = 1 << 0;
export const RFLAGS_FIXED = 1 << 1;
export const RFLAGS_PF = 1 << 2;
export const RFLAGS_AF = 1 << 4;
export const RFLAGS_ZF = 1 << 6;
export const RFLAGS_SF = 1 << 7;
export const RFLAGS_TF = 1 << 8;
export const RFLAGS_IF = 1 << 9;
export const RFLAGS_DF = 1 << 10;
export const RFLAGS_OF = 1 << 11;
export const RFLAGS_IOPL = 3 << 12;
export const RFLAGS_NT = 1 << 14;
export const RFLAGS_RF = 1 << 16;
export const RFLAGS_VM = 1 << 17;
export const RFLAGS_AC = 1 << 18;
export const RFLAGS_ID = 1 << 21;

// ---- Model-specific registers (SDM Vol. 4) ---------------------------------------------
export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_FEATURE_CONTROL = 0x3a;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_VMX_BASIC = 0x480;
export const MSR_EFER = 0xc000_0080;
export const MSR_STAR = 0xc000_0081;
export const MSR_LSTAR = 0xc000_0082;
export const MSR_CSTAR = 0xc000_0083;
export const MSR_FMASK = 0xc000_0084;
export const MSR_FS_BASE = 0xc000_0100;
export const MSR_GS_BASE = 0xc000_0101;
export const MSR_KERNEL_GS_BASE = 0xc000_0102;
export const MSR_TSC_AUX = 0xc000_0103;

// ---- Exception and interrupt vectors (SDM Vol. 3A §6.3, Table 6-1) --------------------
export enum Vector {
  DivideError = 0, // #DE
  Debug = 1, // #DB
  Nmi = 2,
  Breakpoint = 3, // #BP
  Overflow = 4, // #OF
  BoundRange = 5, // #BR
  InvalidOpcode = 6, // #UD
  DeviceNotAvailable = 7, // #NM
  DoubleFault = 8, // #DF
  InvalidTss = 10, // #TS
  SegmentNotPresent = 11, // #NP
  StackFault = 12, // #SS
  GeneralProtection = 13, // #GP
  PageFault = 14, // #PF
  X87Fpu = 16, // #MF
  AlignmentCheck = 17, // #AC
  MachineCheck = 18, // #MC
  SimdFp = 19, // #XM
  Virtualization = 20, // #VE
}

/** Vectors that push an error code (SDM Vol. 3A Table 6-1). */
export function vectorHasErrorCode(v: number): boolean {
  return v === 8 || (v >= 10 && v <= 14) || v === 17 || v === 21;
}

/** Contributory exceptions, for the double-fault rule (SDM Vol. 3A Table 6-4/6-5). */
export function isContributory(v: number): boolean {
  return v === 0 || (v >= 10 && v <= 13);
}

export const VECTOR_MNEMONIC: readonly string[] = [
  '#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'CSO', '#TS', '#NP', '#SS', '#GP',
  '#PF', 'res15', '#MF', '#AC', '#MC', '#XM', '#VE', '#CP',
];

// ---- Segment selectors: libDune/Linux-compatible GDT layout ---------------------------
/** Linux and libDune lay out the GDT so that the host STAR MSR works unchanged. */
export const GD_KT = 0x10;
export const GD_KD = 0x18;
export const GD_UD = 0x28 | 3;
export const GD_UT = 0x30 | 3;
export const GD_TSS = 0x38;

// ---- EPT entries (SDM Vol. 3C §29.3.2, Tables 29-2..29-6) ------------------------------
export const EPT_R = 0x1;
export const EPT_W = 0x2;
export const EPT_X = 0x4;
/** Memory type in bits 5:3 of a leaf; 6 = write-back. */
export const EPT_MT_SHIFT = 3;
export const EPT_MT_WB = 6;
export const EPT_IPAT = 0x40;
export const EPT_PS = 0x80;
export const EPT_A = 0x100;
export const EPT_D = 0x200;

/** EPTP (SDM Vol. 3C §25.6.11): memory type 6 (WB) in bits 2:0, page-walk length − 1 in 5:3. */
export const EPTP_MT_WB = 6;
export const EPTP_WALK_LENGTH_4 = 3 << 3;
export const EPTP_AD_ENABLE = 1 << 6;

/**
 * Exit qualification for EPT violations (SDM Vol. 3C §28.2.1, Table 28-7).
 */
export const EPT_QUAL_READ = 1 << 0;
export const EPT_QUAL_WRITE = 1 << 1;
export const EPT_QUAL_FETCH = 1 << 2;
export const EPT_QUAL_READABLE = 1 << 3;
export const EPT_QUAL_WRITABLE = 1 << 4;
export const EPT_QUAL_EXECUTABLE = 1 << 5;
export const EPT_QUAL_GLA_VALID = 1 << 7;
/** Set when the access was to the final translation (not to a guest paging structure). */
export const EPT_QUAL_GLA_TRANSLATED = 1 << 8;
