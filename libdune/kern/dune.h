/*
 * The ABI between libDune and the Dune kernel module (upstream kern/dune.h): the /dev/dune
 * ioctls, struct dune_config, struct dune_layout and the DUNE_RET_* outcomes of DUNE_ENTER.
 * dunesim's module (core/dune/dune-module.ts) implements the same numbers and layouts.
 */
#pragma once

#ifndef __ASSEMBLER__
#include <stdint.h>
#include <sys/ioctl.h>
#endif

#define DUNE_MINOR 233

/* Run the calling thread in VMX non-root ring 0 until it leaves; the outcome is in conf->ret. */
#define DUNE_ENTER       _IOR(DUNE_MINOR, 0x01, struct dune_config)
/* The host's MSR_LSTAR: where a SYSCALL executed in the guest lands (a kernel address). */
#define DUNE_GET_SYSCALL _IO(DUNE_MINOR, 0x02)
/* The guest-physical layout (struct dune_layout). */
#define DUNE_GET_LAYOUT  _IOW(DUNE_MINOR, 0x03, struct dune_layout)

/* Offsets in struct dune_config, for the assembly (dune.S). */
#define DUNE_CFG_RET     0x00
#define DUNE_CFG_RAX     0x08
#define DUNE_CFG_RBX     0x10
#define DUNE_CFG_RCX     0x18
#define DUNE_CFG_RDX     0x20
#define DUNE_CFG_RSI     0x28
#define DUNE_CFG_RDI     0x30
#define DUNE_CFG_RSP     0x38
#define DUNE_CFG_RBP     0x40
#define DUNE_CFG_R8      0x48
#define DUNE_CFG_R9      0x50
#define DUNE_CFG_R10     0x58
#define DUNE_CFG_R11     0x60
#define DUNE_CFG_R12     0x68
#define DUNE_CFG_R13     0x70
#define DUNE_CFG_R14     0x78
#define DUNE_CFG_R15     0x80
#define DUNE_CFG_RIP     0x88
#define DUNE_CFG_RFLAGS  0x90
#define DUNE_CFG_CR3     0x98
#define DUNE_CFG_STATUS  0xa0
#define DUNE_CFG_VCPU    0xa8

#ifndef __ASSEMBLER__

struct dune_config {
	int64_t ret;
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags, cr3;
	int64_t status;
	uint64_t vcpu;
} __attribute__((packed));

_Static_assert(sizeof(struct dune_config) == 0xb0, "struct dune_config is 0xb0 bytes");
_Static_assert(__builtin_offsetof(struct dune_config, rsp) == DUNE_CFG_RSP, "DUNE_CFG_RSP");
_Static_assert(__builtin_offsetof(struct dune_config, rip) == DUNE_CFG_RIP, "DUNE_CFG_RIP");
_Static_assert(__builtin_offsetof(struct dune_config, cr3) == DUNE_CFG_CR3, "DUNE_CFG_CR3");
_Static_assert(__builtin_offsetof(struct dune_config, status) == DUNE_CFG_STATUS, "DUNE_CFG_STATUS");
_Static_assert(__builtin_offsetof(struct dune_config, vcpu) == DUNE_CFG_VCPU, "DUNE_CFG_VCPU");

struct dune_layout {
	uint64_t phys_limit;
	uint64_t base_map;
	uint64_t base_stack;
} __attribute__((packed));

#endif /* __ASSEMBLER__ */

/* Outcomes of DUNE_ENTER (conf->ret); NOENTER is libDune's own, for a failed re-entry. */
#define DUNE_RET_EXIT             1
#define DUNE_RET_EPT_VIOLATION    2
#define DUNE_RET_INTERRUPT        3
#define DUNE_RET_SIGNAL           4
#define DUNE_RET_UNHANDLED_VMEXIT 5
#define DUNE_RET_NOENTER          6
