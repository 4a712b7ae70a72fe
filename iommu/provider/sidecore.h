/*
 * sidecore.h — the hart that provides `--viommu sidecore` (the vIOMMU
 * paper's sidecore): it runs no vCPU and only polls the register pages of
 * the sidecore VMs (iommu/provider/viommu_vm.c), so that a guest's
 * register accesses and commands cost it no exit.  It takes the first hart
 * without a vCPU after the monitor's (tools/umbra-run adds one).
 */
#ifndef UMBRA_IOMMU_SIDECORE_H
#define UMBRA_IOMMU_SIDECORE_H

#include "core/portable/config.h"

struct hart;

/* Reserve hart `hart_index` if any VM of cfg wants a sidecore.  0, or -1
 * if one is wanted and there is no such hart. */
int sidecore_init(const struct umbra_config *cfg, unsigned hart_index, unsigned hart_count);
bool sidecore_owns_hart(const struct hart *hart);
_Noreturn void sidecore_run(void);

#endif
