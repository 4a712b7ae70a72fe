/*
 * memory.h — a VM's RAM when it is kept page by page (mm/lazy_ram.h):
 * lazy or eager backing, the periodic work on it (the DMA pinning's unpin
 * scan, then reclaim), and what happens when the machine runs out.
 *
 * A VM's RAM is one block (today's default, `mem_backing=eager` without
 * reclaim or a tracking pinning) or paged: config_ram_paged().  Paged RAM
 * is backed on first touch (lazy) or all at creation (eager, then
 * reclaimable); either way only the mode's fault paths and the guest-memory
 * map see the difference.
 */
#ifndef UMBRA_CORE_MEMORY_H
#define UMBRA_CORE_MEMORY_H

#include "core/vm.h"

/* Build the VM's RAM (vm->mem, and vm->ram when paged).  0, or -1 with a
 * message naming the VM. */
int memory_vm_init(struct vm *vm, char *err, size_t errlen);
/* The vCPU enters its guest: vCPU 0 of a VM with periodic work arms
 * Umbra's timer on its hart. */
void memory_vcpu_enter(struct vcpu *vcpu);
/* Umbra's timer fired on this vCPU's hart: do the VM's periodic work and
 * re-arm it. */
void memory_timer(struct vcpu *vcpu);
/* End of an exit of a paged VM: a page that could not be backed ends the
 * VM (the guest never sees another VM's page, nor a page of garbage). */
void memory_check_exit(struct vcpu *vcpu);
/* Hold every other vCPU of self's VM in Umbra (vcpu_pause) until release:
 * afterwards none runs guest code or is inside an exit.  False (nothing
 * held) if the VM is ending meanwhile. */
bool memory_hold_vcpus(struct vcpu *self);
void memory_release_vcpus(struct vcpu *self);
/* Reclaim now (from a vCPU of the VM, its siblings held meanwhile); the
 * pages freed. */
uint64_t memory_reclaim(struct vcpu *self);
/* The VM ended: a paged VM without devices gives its frames back to the
 * pool for the others (a device might still write to its RAM otherwise). */
void memory_vm_end(struct vm *vm);
/* The counters for the VM's report. */
void memory_report(const struct vm *vm, struct exit_stats *total);

#endif
