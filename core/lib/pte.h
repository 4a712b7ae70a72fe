/*
 * pte.h — the Sv39 page-table entry and satp encodings of the RISC-V
 * privileged specification, as plain constants.  Shared by Umbra's page-table
 * code and by the built-in guest kernels, which build their own tables.
 */
#ifndef UMBRA_MM_PTE_H
#define UMBRA_MM_PTE_H

#include "core/lib/base.h"

typedef uint64_t pte_t;

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_G (1ull << 5)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PTE_PPN_SHIFT 10
#define PTES_PER_TABLE 512

#define SATP_MODE_SHIFT 60
#define SATP_MODE_BARE 0ull   /* the MODE field value, unshifted */
#define SATP_MODE_SV39 (8ull << SATP_MODE_SHIFT)
#define SATP_ASID_SHIFT 44
#define SATP_ASID_MASK 0xffffull
#define SATP_PPN_MASK ((1ull << 44) - 1)

#endif
