/*
 * mmio.h — emulating a guest's load or store to an emulated device (the
 * config space of iommu/passthrough/vpci.c) after it trapped: in hap as a G-stage fault,
 * in the shadow modes as a page fault whose guest translation lands
 * outside RAM.  Also the one way Umbra reads the instruction a guest
 * trapped on.
 */
#ifndef UMBRA_CORE_MMIO_H
#define UMBRA_CORE_MMIO_H

#include "core/vm.h"

/* Read the instruction at the guest's pc through its own translation
 * (vsatp in hap, the satp it wrote in the shadow modes).  False if that
 * translation does not reach RAM. */
bool vcpu_fetch_insn(struct vcpu *vcpu, uint32_t *insn);

/* The guest's access at guest-physical gpa trapped and nothing is mapped
 * there.  If an emulated device owns gpa and the instruction is an integer
 * load or plain store, perform it, count an `mmio` exit, step over it and
 * return true.  Otherwise change nothing and return false (the caller gives
 * the guest the access fault a hole in the physical map gives). */
bool mmio_emulate(struct vcpu *vcpu, gpaddr_t gpa);

#endif
