/**
 * VMCS field encodings (Intel SDM Vol. 3D Appendix B), named as KVM and the Dune module name
 * them. The encoding carries the width in bits 14:13 (0 = 16-bit, 1 = 64-bit, 2 = 32-bit,
 * 3 = natural width) and the type in bits 11:10 (0 control, 1 read-only data, 2 guest, 3 host).
 */
export enum VmcsField {
  // 16-bit control
  VIRTUAL_PROCESSOR_ID = 0x0000,
  POSTED_INTR_NV = 0x0002,
  // 16-bit guest state
  GUEST_ES_SELECTOR = 0x0800,
  GUEST_CS_SELECTOR = 0x0802,
  GUEST_SS_SELECTOR = 0x0804,
  GUEST_DS_SELECTOR = 0x0806,
  GUEST_FS_SELECTOR = 0x0808,
  GUEST_GS_SELECTOR = 0x080a,
  GUEST_LDTR_SELECTOR = 0x080c,
  GUEST_TR_SELECTOR = 0x080e,
  // 16-bit host state
  HOST_ES_SELECTOR = 0x0c00,
  HOST_CS_SELECTOR = 0x0c02,
  HOST_SS_SELECTOR = 0x0c04,
  HOST_DS_SELECTOR = 0x0c06,
  HOST_FS_SELECTOR = 0x0c08,
  HOST_GS_SELECTOR = 0x0c0a,
  HOST_TR_SELECTOR = 0x0c0c,
  // 64-bit control
  IO_BITMAP_A = 0x2000,
  IO_BITMAP_B = 0x2002,
  MSR_BITMAP = 0x2004,
  VM_EXIT_MSR_STORE_ADDR = 0x2006,
  VM_EXIT_MSR_LOAD_ADDR = 0x2008,
  VM_ENTRY_MSR_LOAD_ADDR = 0x200a,
  TSC_OFFSET = 0x2010,
  VIRTUAL_APIC_PAGE_ADDR = 0x2012,
  APIC_ACCESS_ADDR = 0x2014,
  POSTED_INTR_DESC_ADDR = 0x2016,
  EPT_POINTER = 0x201a,
  // 64-bit read-only data
  GUEST_PHYSICAL_ADDRESS = 0x2400,
  // 64-bit guest state
  VMCS_LINK_POINTER = 0x2800,
  GUEST_IA32_DEBUGCTL = 0x2802,
  GUEST_IA32_PAT = 0x2804,
  GUEST_IA32_EFER = 0x2806,
  // 64-bit host state
  HOST_IA32_PAT = 0x2c00,
  HOST_IA32_EFER = 0x2c02,
  // 32-bit control
  PIN_BASED_VM_EXEC_CONTROL = 0x4000,
  CPU_BASED_VM_EXEC_CONTROL = 0x4002,
  EXCEPTION_BITMAP = 0x4004,
  PAGE_FAULT_ERROR_CODE_MASK = 0x4006,
  PAGE_FAULT_ERROR_CODE_MATCH = 0x4008,
  CR3_TARGET_COUNT = 0x400a,
  VM_EXIT_CONTROLS = 0x400c,
  VM_EXIT_MSR_STORE_COUNT = 0x400e,
  VM_EXIT_MSR_LOAD_COUNT = 0x4010,
  VM_ENTRY_CONTROLS = 0x4012,
  VM_ENTRY_MSR_LOAD_COUNT = 0x4014,
  VM_ENTRY_INTR_INFO_FIELD = 0x4016,
  VM_ENTRY_EXCEPTION_ERROR_CODE = 0x4018,
  VM_ENTRY_INSTRUCTION_LEN = 0x401a,
  TPR_THRESHOLD = 0x401c,
  SECONDARY_VM_EXEC_CONTROL = 0x401e,
  // 32-bit read-only data
  VM_INSTRUCTION_ERROR = 0x4400,
  VM_EXIT_REASON = 0x4402,
  VM_EXIT_INTR_INFO = 0x4404,
  VM_EXIT_INTR_ERROR_CODE = 0x4406,
  IDT_VECTORING_INFO_FIELD = 0x4408,
  IDT_VECTORING_ERROR_CODE = 0x440a,
  VM_EXIT_INSTRUCTION_LEN = 0x440c,
  VMX_INSTRUCTION_INFO = 0x440e,
  // 32-bit guest state
  GUEST_ES_LIMIT = 0x4800,
  GUEST_CS_LIMIT = 0x4802,
  GUEST_SS_LIMIT = 0x4804,
  GUEST_DS_LIMIT = 0x4806,
  GUEST_FS_LIMIT = 0x4808,
  GUEST_GS_LIMIT = 0x480a,
  GUEST_LDTR_LIMIT = 0x480c,
  GUEST_TR_LIMIT = 0x480e,
  GUEST_GDTR_LIMIT = 0x4810,
  GUEST_IDTR_LIMIT = 0x4812,
  GUEST_ES_AR_BYTES = 0x4814,
  GUEST_CS_AR_BYTES = 0x4816,
  GUEST_SS_AR_BYTES = 0x4818,
  GUEST_DS_AR_BYTES = 0x481a,
  GUEST_FS_AR_BYTES = 0x481c,
  GUEST_GS_AR_BYTES = 0x481e,
  GUEST_LDTR_AR_BYTES = 0x4820,
  GUEST_TR_AR_BYTES = 0x4822,
  GUEST_INTERRUPTIBILITY_INFO = 0x4824,
  GUEST_ACTIVITY_STATE = 0x4826,
  GUEST_SYSENTER_CS = 0x482a,
  // 32-bit host state
  HOST_IA32_SYSENTER_CS = 0x4c00,
  // natural-width control
  CR0_GUEST_HOST_MASK = 0x6000,
  CR4_GUEST_HOST_MASK = 0x6002,
  CR0_READ_SHADOW = 0x6004,
  CR4_READ_SHADOW = 0x6006,
  CR3_TARGET_VALUE0 = 0x6008,
  // natural-width read-only data
  EXIT_QUALIFICATION = 0x6400,
  GUEST_LINEAR_ADDRESS = 0x640a,
  // natural-width guest state
  GUEST_CR0 = 0x6800,
  GUEST_CR3 = 0x6802,
  GUEST_CR4 = 0x6804,
  GUEST_ES_BASE = 0x6806,
  GUEST_CS_BASE = 0x6808,
  GUEST_SS_BASE = 0x680a,
  GUEST_DS_BASE = 0x680c,
  GUEST_FS_BASE = 0x680e,
  GUEST_GS_BASE = 0x6810,
  GUEST_LDTR_BASE = 0x6812,
  GUEST_TR_BASE = 0x6814,
  GUEST_GDTR_BASE = 0x6816,
  GUEST_IDTR_BASE = 0x6818,
  GUEST_DR7 = 0x681a,
  GUEST_RSP = 0x681c,
  GUEST_RIP = 0x681e,
  GUEST_RFLAGS = 0x6820,
  GUEST_PENDING_DBG_EXCEPTIONS = 0x6822,
  GUEST_SYSENTER_ESP = 0x6824,
  GUEST_SYSENTER_EIP = 0x6826,
  // natural-width host state
  HOST_CR0 = 0x6c00,
  HOST_CR3 = 0x6c02,
  HOST_CR4 = 0x6c04,
  HOST_FS_BASE = 0x6c06,
  HOST_GS_BASE = 0x6c08,
  HOST_TR_BASE = 0x6c0a,
  HOST_GDTR_BASE = 0x6c0c,
  HOST_IDTR_BASE = 0x6c0e,
  HOST_IA32_SYSENTER_ESP = 0x6c10,
  HOST_IA32_SYSENTER_EIP = 0x6c12,
  HOST_RSP = 0x6c14,
  HOST_RIP = 0x6c16,
}

/** Basic exit reasons (SDM Vol. 3D Appendix C). */
export enum VmExitReason {
  ExceptionOrNmi = 0,
  ExternalInterrupt = 1,
  TripleFault = 2,
  InitSignal = 3,
  InterruptWindow = 7,
  TaskSwitch = 9,
  Cpuid = 10,
  Hlt = 12,
  Invd = 13,
  Invlpg = 14,
  Rdpmc = 15,
  Rdtsc = 16,
  Vmcall = 18,
  Vmclear = 19,
  Vmlaunch = 20,
  Vmptrld = 21,
  Vmptrst = 22,
  Vmread = 23,
  Vmresume = 24,
  Vmwrite = 25,
  Vmxoff = 26,
  Vmxon = 27,
  CrAccess = 28,
  MovDr = 29,
  IoInstruction = 30,
  Rdmsr = 31,
  Wrmsr = 32,
  EntryFailInvalidGuestState = 33,
  EntryFailMsrLoading = 34,
  Mwait = 36,
  Monitor = 39,
  Pause = 40,
  EntryFailMachineCheck = 41,
  TprBelowThreshold = 43,
  ApicAccess = 44,
  GdtrIdtrAccess = 46,
  LdtrTrAccess = 47,
  EptViolation = 48,
  EptMisconfig = 49,
  Invept = 50,
  Rdtscp = 51,
  PreemptionTimer = 52,
  Invvpid = 53,
  Wbinvd = 54,
  Xsetbv = 55,
  Rdrand = 57,
  Invpcid = 58,
}

/** Bit 31 of the exit reason: the VM entry failed. */
export const VM_EXIT_REASON_ENTRY_FAILURE = 0x8000_0000;

// Pin-based VM-execution controls (SDM Vol. 3C §25.6.1).
export const PIN_EXTERNAL_INTERRUPT_EXITING = 1 << 0;
export const PIN_NMI_EXITING = 1 << 3;
export const PIN_VIRTUAL_NMIS = 1 << 5;
export const PIN_PREEMPTION_TIMER = 1 << 6;

// Primary processor-based VM-execution controls (§25.6.2, Table 25-6).
export const CPU_INTR_WINDOW_EXITING = 1 << 2;
export const CPU_USE_TSC_OFFSETTING = 1 << 3;
export const CPU_HLT_EXITING = 1 << 7;
export const CPU_INVLPG_EXITING = 1 << 9;
export const CPU_MWAIT_EXITING = 1 << 10;
export const CPU_RDPMC_EXITING = 1 << 11;
export const CPU_RDTSC_EXITING = 1 << 12;
export const CPU_CR3_LOAD_EXITING = 1 << 15;
export const CPU_CR3_STORE_EXITING = 1 << 16;
export const CPU_CR8_LOAD_EXITING = 1 << 19;
export const CPU_CR8_STORE_EXITING = 1 << 20;
export const CPU_MOV_DR_EXITING = 1 << 23;
export const CPU_UNCOND_IO_EXITING = 1 << 24;
export const CPU_USE_IO_BITMAPS = 1 << 25;
export const CPU_USE_MSR_BITMAPS = 1 << 28;
export const CPU_ACTIVATE_SECONDARY_CONTROLS = 0x8000_0000;

// Secondary processor-based VM-execution controls (Table 25-7).
export const SECONDARY_ENABLE_EPT = 1 << 1;
export const SECONDARY_DESC_TABLE_EXITING = 1 << 2;
export const SECONDARY_ENABLE_RDTSCP = 1 << 3;
export const SECONDARY_ENABLE_VPID = 1 << 5;
export const SECONDARY_WBINVD_EXITING = 1 << 6;
export const SECONDARY_ENABLE_INVPCID = 1 << 12;

// VM-exit controls (§25.7.1) and VM-entry controls (§25.8.1).
export const EXIT_HOST_ADDR_SPACE_SIZE = 1 << 9;
export const EXIT_ACK_INTR_ON_EXIT = 1 << 15;
export const EXIT_SAVE_EFER = 1 << 20;
export const EXIT_LOAD_EFER = 1 << 21;
export const ENTRY_IA32E_MODE = 1 << 9;
export const ENTRY_LOAD_EFER = 1 << 15;

/** VM-exit interruption-information / VM-entry interruption-information layout (§25.9.2). */
export const INTR_INFO_VALID = 0x8000_0000;
export const INTR_INFO_DELIVER_CODE = 1 << 11;
export const INTR_TYPE_EXTERNAL = 0 << 8;
export const INTR_TYPE_NMI = 2 << 8;
export const INTR_TYPE_HARD_EXCEPTION = 3 << 8;
export const INTR_TYPE_SOFT_INTERRUPT = 4 << 8;
export const INTR_TYPE_SOFT_EXCEPTION = 6 << 8;

/** VM-instruction error numbers (SDM Vol. 3C §31.4). */
export enum VmInstructionError {
  VmcallInVmxRoot = 1,
  VmclearInvalidAddress = 2,
  VmclearVmxon = 3,
  VmlaunchNonClear = 4,
  VmresumeNonLaunched = 5,
  EntryInvalidControl = 7,
  EntryInvalidHostState = 8,
  VmptrldInvalidAddress = 9,
  UnsupportedVmcsComponent = 12,
  VmxonInVmxRoot = 15,
}
