/*
 * mmio.h — the emulated-device registry and the one decoder of trapped
 * accesses.
 *
 * A VM's emulated devices are regions of its guest-physical space, each
 * registered with its handlers (every VM's UART, core/devices/vuart.c, and
 * vpci's ECAM window today; the vIOMMU's register file and mediated device
 * registers later).  Nothing maps them,
 * so every access traps — in hap as a G-stage fault, in the shadow modes
 * as a page fault whose guest translation lands outside RAM — and the mode
 * hands the guest-physical address to mmio_emulate.  Adding a device is
 * registering a region.
 *
 * The decoder says what a trapped load or store was (from htinst when the
 * hart transformed it, else by fetching the instruction through the
 * guest's own translation), for MMIO emulation and for tsp's emulation of
 * stores to protected page tables alike.
 */
#ifndef UMBRA_CORE_MMIO_H
#define UMBRA_CORE_MMIO_H

#include "core/portable/insn.h"
#include "core/vm.h"

#define MMIO_MAX_REGIONS 4   /* per VM */

/* A device's handlers: offset is from the region's base; size is 1, 2, 4
 * or 8 (a device decides what it does with a size it does not support). */
struct mmio_ops {
    enum exit_cause cause;   /* what its exits count as: EXIT_MMIO, or the device's own */
    uint64_t (*read)(struct vcpu *vcpu, void *dev, uint64_t offset, unsigned size);
    void (*write)(struct vcpu *vcpu, void *dev, uint64_t offset, unsigned size, uint64_t value);
};

/* Register [base, base + size) of vm as an emulated device.  0, or -1 if
 * the region is empty, wraps, overlaps another or the table is full. */
int mmio_register(struct vm *vm, gpaddr_t base, uint64_t size, const struct mmio_ops *ops, void *dev);

/* The guest's access at guest-physical gpa trapped and nothing is mapped
 * there.  If a registered device owns gpa and the instruction is an
 * integer load or plain store, perform it, count an `mmio` exit, step over
 * it and return true.  Otherwise change nothing and return false (the mode
 * gives the guest the fault a hole in the physical map gives). */
bool mmio_emulate(struct vcpu *vcpu, gpaddr_t gpa);

/* What a trapped load or store was. */
struct trapped_access {
    bool is_load;
    struct load_insn ld;     /* is_load */
    struct store_insn st;    /* !is_load: a plain store, AMO or SC */
    uint64_t va;             /* guest-virtual address of its first byte */
    uint32_t insn;           /* the instruction when it was fetched, else 0 */
};

/* Decode the access the vCPU trapped on: from htinst (va = stval minus the
 * transformed instruction's address offset), else from the instruction at
 * its pc fetched through its own translation (va = rs1 + offset).  False
 * if neither gives an integer load or store. */
bool vcpu_decode_access(struct vcpu *vcpu, struct trapped_access *out);

/* Read the instruction at the guest's pc through its own translation (the
 * mode's guest_satp).  False if that does not reach RAM. */
bool vcpu_fetch_insn(struct vcpu *vcpu, uint32_t *insn);

#endif
