/* Address and page-table-entry types (upstream libdune/mmu.h). */
#pragma once

#include <stdint.h>
#include "mmu-x86.h"

typedef uintptr_t physaddr_t; /* guest-physical address */
typedef uintptr_t virtaddr_t; /* guest-virtual address */
typedef uint64_t ptent_t;     /* a page-table entry */
