/*
 * fence.c — the only place tinyos executes SFENCE.VMA.  Each call site
 * names the rule of the privileged spec (section "Supervisor
 * Memory-Management Fence Instruction") it follows; docs/tinyos.md lists
 * them all.  The forms used:
 *   sfence.vma va, asid   a leaf PTE of one address space changed
 *   sfence.vma x0, asid   non-leaf entries of one space changed or went
 *                         away, or the ASID is being given a new meaning
 *   sfence.vma x0, x0     once at boot (and when ASIDs are not in use,
 *                         with rs2 holding 0, see asid.c)
 * The counts feed the per-workload "measure" line: under shadow paging
 * every one of these is a VM exit, so they are what a scheme pays for.
 */
#include "guests/tinyos/kernel.h"

void fence_page(uint64_t va, uint64_t asid)
{
    kstats.fence_va_asid++;
    /* "r" operands: asid may be 0 (no-ASID mode) and must still be a
     * register other than x0, or global entries would be flushed too. */
    __asm__ volatile("sfence.vma %0, %1" ::"r"(va), "r"(asid) : "memory");
}

void fence_asid(uint64_t asid)
{
    kstats.fence_asid++;
    __asm__ volatile("sfence.vma zero, %0" ::"r"(asid) : "memory");
}

void fence_all(void)
{
    kstats.fence_all++;
    __asm__ volatile("sfence.vma zero, zero" ::: "memory");
}
