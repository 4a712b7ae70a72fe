/*
 * sidecore.c — the sidecore hart (see sidecore.h): a loop of polls until
 * every VM has ended, then an idle hart like any other without a vCPU.
 */
#include "iommu/provider/sidecore.h"
#include "arch/riscv/csr.h"
#include "core/console.h"
#include "core/vm.h"
#include "iommu/provider/viommu_vm.h"

static bool sidecore_on;
static unsigned sidecore_hart;

int sidecore_init(const struct umbra_config *cfg, unsigned hart_index, unsigned nharts)
{
    for (unsigned i = 0; i < cfg->nvms; i++)
        sidecore_on |= cfg->vms[i].viommu == VIOMMU_SIDECORE;
    if (!sidecore_on)
        return 0;
    if (hart_index >= nharts)
        return -1;
    sidecore_hart = hart_index;
    kprintf("umbra: viommu sidecore on hart %u\n", hart_index);
    return 0;
}

bool sidecore_owns_hart(const struct hart *hart)
{
    return sidecore_on && hart->index == sidecore_hart;
}

static bool every_vm_ended(void)
{
    for (unsigned i = 0; i < vm_count; i++)
        if (vms[i].state == VM_RUNNING)
            return false;
    return true;
}

/* After this many looks in a row find nothing, the sidecore naps before
 * the next: one timer tick (100 ns on QEMU virt) at first, twice as long
 * after each further idle stretch, up to SIDECORE_NAP_MAX ticks, and back
 * to one as soon as there is work.  On hardware that barely delays it;
 * under QEMU -icount, where every hart takes turns on one host thread and a
 * spinning hart keeps its turn until the next timer event, it is what lets
 * the guest's hart run at all (docs/viommu.md). */
#define SIDECORE_IDLE_POLLS 16u
#define SIDECORE_NAP_MAX 64u

static void sidecore_nap(uint64_t ticks)
{
    csr_write(CSR_STIMECMP, time_read() + ticks);
    csr_set(sie, 1ull << IRQ_S_TIMER);
    wait_for_interrupt();
    csr_write(CSR_STIMECMP, ~0ull);
    csr_clear(sie, 1ull << IRQ_S_TIMER);
    csr_clear(sip, 1ull << IRQ_S_SOFT);
}

_Noreturn void sidecore_run(void)
{
    unsigned idle = 0, nap = 1;
    while (!every_vm_ended()) {
        if (viommu_sidecore_poll()) {
            idle = 0, nap = 1;
            continue;
        }
        if (++idle < SIDECORE_IDLE_POLLS)
            continue;
        sidecore_nap(nap);
        idle = 0;
        nap = MIN(nap * 2, SIDECORE_NAP_MAX);
    }
    for (;;)
        wait_for_interrupt();
}
