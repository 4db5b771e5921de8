/**
 * The Dune ABI between libDune and the kernel module (kern/dune.h at project-dune/dune HEAD),
 * and libDune's own constants (libdune/dune.h, mmu-x86.h).
 */

/** Outcomes of DUNE_ENTER in dune_config.ret. */
export enum DuneRet {
  Exit = 1,
  EptViolation = 2,
  Interrupt = 3,
  Signal = 4,
  UnhandledVmexit = 5,
  NoEnter = 6,
}

/** struct dune_config (packed, 0xb0 bytes): offsets of DUNE_CFG_*. */
export const DUNE_CFG = {
  ret: 0x00, rax: 0x08, rbx: 0x10, rcx: 0x18, rdx: 0x20, rsi: 0x28, rdi: 0x30, rsp: 0x38, rbp: 0x40,
  r8: 0x48, r9: 0x50, r10: 0x58, r11: 0x60, r12: 0x68, r13: 0x70, r14: 0x78, r15: 0x80,
  rip: 0x88, rflags: 0x90, cr3: 0x98, status: 0xa0, vcpu: 0xa8,
} as const;
export const DUNE_CONFIG_SIZE = 0xb0;

/** struct dune_layout { phys_limit, base_map, base_stack }. */
export const DUNE_LAYOUT_SIZE = 24;

/** libDune's page-permission flags (PERM_*), translated to PTE bits by get_pte_perm. */
export const PERM_NONE = 0, PERM_R = 0x1, PERM_W = 0x2, PERM_X = 0x4, PERM_U = 0x8, PERM_UC = 0x10,
  PERM_COW = 0x20, PERM_BIG = 0x100, PERM_BIG_1GB = 0x200, PERM_USR1 = 0x1000, PERM_USR2 = 0x2000;

/** Interrupt vectors of signals in libDune's IDT (DUNE_SIGNAL_INTR_BASE + signum). */
export const DUNE_SIGNAL_INTR_BASE = 200;

/** Syscalls the module refuses from a guest (vmx_handle_syscall): -EINVAL. */
export const DUNE_UNSUPPORTED_SYSCALLS = new Set([131 /* sigaltstack */, 172 /* iopl */]);
export const DUNE_NUM_SYSCALLS = 312;
