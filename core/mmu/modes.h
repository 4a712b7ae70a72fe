/*
 * modes.h — the modes' interfaces, for the selector (mmu.c) only: code
 * elsewhere reaches a mode through vm->mmu and never names one.
 */
#ifndef UMBRA_CORE_MMU_MODES_H
#define UMBRA_CORE_MMU_MODES_H

#include "core/mmu/mmu.h"

extern const struct mmu_ops mmu_hap_ops;   /* core/mmu/mode_hap.c */
extern const struct mmu_ops mmu_tsp_ops;   /* core/mmu/mode_shadow.c */
extern const struct mmu_ops mmu_ssp_ops;   /* core/mmu/mode_shadow.c */

#endif
