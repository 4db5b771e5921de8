/*
 * x86-64 paging, trap and control-register definitions with the names libDune inherited from
 * JOS (upstream libdune/mmu-x86.h). Values are the architecture's (Intel SDM Vol. 3A ch. 4, 6).
 */
#pragma once

/* Paging geometry: 4 levels (3 down to 0), 512 entries each. */
#define NPTBITS   9
#define NPTLVLS   3
#define PGSHIFT   12
#define PGSIZE    (1UL << PGSHIFT)
#define BIG_PGSHIFT 21
#define BIG_PGSIZE  (1UL << BIG_PGSHIFT)
#define HUGE_PGSHIFT 30
#define HUGE_PGSIZE  (1UL << HUGE_PGSHIFT)

/* The index of linear address la in a level-n table (0 = page table, 3 = PML4). */
#define PDSHIFT(n)  (PGSHIFT + NPTBITS * (n))
#define PDX(n, la)  ((((uintptr_t) (la)) >> PDSHIFT(n)) & ((1 << NPTBITS) - 1))
#define NPTENTRIES  (1 << NPTBITS)
#define PPN(la)     (((uintptr_t) (la)) >> PGSHIFT)
#define PGOFF(la)   (((uintptr_t) (la)) & (PGSIZE - 1))
#define PGADDR(la)  (((uintptr_t) (la)) & ~(PGSIZE - 1))
#define BIG_PGOFF(la)  (((uintptr_t) (la)) & (BIG_PGSIZE - 1))
#define BIG_PGADDR(la) (((uintptr_t) (la)) & ~(BIG_PGSIZE - 1))

/* Page-table entry flags (SDM Vol. 3A Tables 4-14 to 4-20). */
#define PTE_P      0x001UL /* present */
#define PTE_W      0x002UL /* writeable */
#define PTE_U      0x004UL /* user */
#define PTE_PWT    0x008UL /* write-through */
#define PTE_PCD    0x010UL /* cache-disable */
#define PTE_A      0x020UL /* accessed: set by the walker on any access */
#define PTE_D      0x040UL /* dirty: set by the walker on a write */
#define PTE_PS     0x080UL /* page size (in a PDPTE or PDE: a 1 GiB or 2 MiB leaf) */
#define PTE_PAT    0x080UL /* PAT (in a 4 KiB PTE) */
#define PTE_G      0x100UL /* global */
#define PTE_AVAIL  0xE00UL /* available for software use */
#define PTE_PAT_PS 0x1000UL /* PAT (in a PS=1 entry) */
#define PTE_AVAIL2 0x7FF0000000000000UL /* bits 52-62, available for software use */
#define PTE_NX     0x8000000000000000UL /* no execute (needs EFER.NXE) */

/* libDune's software bits. */
#define PTE_COW    0x200UL /* copy-on-write (the entry must also be read-only) */
#define PTE_USR1   0x4000000000000000UL /* bit 62 */
#define PTE_USR2   0x2000000000000000UL /* bit 61 */
#define PTE_USR3   0x1000000000000000UL /* bit 60 */

#define PTE_ADDR(pte)  ((uintptr_t) (pte) & 0xffffffffff000UL)
#define PTE_FLAGS(pte) ((uintptr_t) (pte) & 0xfff0000000000fffUL)
#define PTE_DEF_FLAGS  (PTE_P | PTE_W | PTE_U)

/* Control registers. */
#define CR0_PE 0x00000001
#define CR0_MP 0x00000002
#define CR0_EM 0x00000004
#define CR0_TS 0x00000008
#define CR0_ET 0x00000010
#define CR0_NE 0x00000020
#define CR0_WP 0x00010000
#define CR0_AM 0x00040000
#define CR0_NW 0x20000000
#define CR0_CD 0x40000000
#define CR0_PG 0x80000000

#define CR3_PWT 0x00000008
#define CR3_PCD 0x00000010
#define CR3_PCID_MASK 0xfffUL

#define CR4_VME        0x00000001
#define CR4_PVI        0x00000002
#define CR4_TSD        0x00000004
#define CR4_DE         0x00000008
#define CR4_PSE        0x00000010
#define CR4_PAE        0x00000020
#define CR4_MCE        0x00000040
#define CR4_PGE        0x00000080
#define CR4_PCE        0x00000100
#define CR4_OSFXSR     0x00000200
#define CR4_OSXMMEXCPT 0x00000400
#define CR4_VMXE       0x00002000
#define CR4_FSGSBASE   0x00010000
#define CR4_PCIDE      0x00020000
#define CR4_OSXSAVE    0x00040000
#define CR4_SMEP       0x00100000

/* RFLAGS. */
#define FL_CF        0x00000001
#define FL_PF        0x00000004
#define FL_AF        0x00000010
#define FL_ZF        0x00000040
#define FL_SF        0x00000080
#define FL_TF        0x00000100
#define FL_IF        0x00000200
#define FL_DF        0x00000400
#define FL_OF        0x00000800
#define FL_IOPL_MASK 0x00003000
#define FL_IOPL_0    0x00000000
#define FL_IOPL_1    0x00001000
#define FL_IOPL_2    0x00002000
#define FL_IOPL_3    0x00003000
#define FL_NT        0x00004000
#define FL_RF        0x00010000
#define FL_VM        0x00020000
#define FL_AC        0x00040000
#define FL_VIF       0x00080000
#define FL_VIP       0x00100000
#define FL_ID        0x00200000

/* EFER. */
#define EFER_SCE   0x001
#define EFER_LME   0x100
#define EFER_LMA   0x400
#define EFER_NX    0x800
#define EFER_FFXSR 0x4000

/* MSRs. */
#define MSR_EFER           0xc0000080
#define MSR_STAR           0xc0000081
#define MSR_LSTAR          0xc0000082
#define MSR_CSTAR          0xc0000083
#define MSR_SFMASK         0xc0000084
#define MSR_FS_BASE        0xc0000100
#define MSR_GS_BASE        0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102

/* Page-fault error code (SDM Vol. 3A §4.7). */
#define FEC_P   0x1  /* the fault was a protection violation (else: not present) */
#define FEC_W   0x2  /* the access was a write */
#define FEC_U   0x4  /* the access was made at CPL 3 */
#define FEC_RSV 0x8  /* a reserved bit was set in a paging entry */
#define FEC_I   0x10 /* the access was an instruction fetch */

/* Exception vectors (SDM Vol. 3A Table 6-1). */
#define T_DIVIDE   0  /* divide error */
#define T_DEBUG    1  /* debug exception */
#define T_NMI      2  /* non-maskable interrupt */
#define T_BRKPT    3  /* breakpoint */
#define T_OFLOW    4  /* overflow */
#define T_BOUND    5  /* bounds check */
#define T_ILLOP    6  /* illegal opcode */
#define T_DEVICE   7  /* device not available */
#define T_DBLFLT   8  /* double fault */
/* 9 is reserved */
#define T_TSS     10  /* invalid task switch segment */
#define T_SEGNP   11  /* segment not present */
#define T_STACK   12  /* stack exception */
#define T_GPFLT   13  /* general protection fault */
#define T_PGFLT   14  /* page fault */
/* 15 is reserved */
#define T_FPERR   16  /* floating point error */
#define T_ALIGN   17  /* alignment check */
#define T_MCHK    18  /* machine check */
#define T_SIMDERR 19  /* SIMD floating point error */
#define T_SYSCALL 48  /* system call (unused: libDune takes SYSCALL at LSTAR) */
