/*
 * guest_dtb.h — building the device tree a VM boots with: QEMU virt's
 * tree, node for node, for what the VM has (RAM, vCPUs, /chosen, /aliases,
 * its UART and, for a VM with assigned PCI functions, its host bridge,
 * both under /soc).  docs/architecture.md lists what is left out and why.  Portable (no globals, no hardware), so its output is
 * unit-tested on the host.
 */
#ifndef UMBRA_CORE_GUEST_DTB_H
#define UMBRA_CORE_GUEST_DTB_H

#include "core/lib/base.h"

struct guest_dtb_params {
    const char *bootargs;
    unsigned ncpus;
    gpaddr_t ram_base;
    uint64_t ram_size;
    uint32_t timebase_hz;
    const char *host_isa;        /* the host hart's riscv,isa */
    const char *mmu_type;        /* the host's mmu-type, or "" */
    /* The host's cache-block sizes for Zicbom/Zicboz/Zicbop (0 = not given);
     * each is written only when the guest's ISA keeps that extension. */
    uint32_t cbom_block, cboz_block, cbop_block;
    gpaddr_t initrd_start;
    uint64_t initrd_size;        /* 0 = no initrd */
    /* A PCI host bridge (ECAM, bus 0 only) with one 32-bit memory window
     * whose PCI addresses equal guest-physical ones; pci_ecam_size 0 = none. */
    gpaddr_t pci_ecam_base;
    uint64_t pci_ecam_size;
    gpaddr_t pci_mem_base;
    uint64_t pci_mem_size;
    /* An ns16550a (byte registers, reg-shift 0, no interrupt) under /soc,
     * named by /chosen/stdout-path; uart_size 0 = none. */
    /* A RISC-V IOMMU (a vIOMMU the guest programs) under /soc, named by
     * the host bridge's iommu-map for every requester ID; iommu_size 0 =
     * none.  No interrupts: Umbra's vIOMMU is driven by polling. */
    gpaddr_t iommu_base;
    uint64_t iommu_size;
    /* A coIOMMU (core/lib/coiommu_abi.h, "umbra,coiommu") for the guest's
     * DMA tracking table; coiommu_size 0 = none. */
    gpaddr_t coiommu_base;
    uint64_t coiommu_size;
    gpaddr_t uart_base;
    uint64_t uart_size;
    uint32_t uart_clock_hz;
};

/* The host ISA string as a guest sees it: no 'h', no hypervisor (sh*),
 * machine-level (sm*) or PMU-overflow (sscofpmf) extensions. */
size_t guest_isa_string(const char *host, char *out, size_t cap);
/* The ISA string as riscv,isa-base ("rv64i") and riscv,isa-extensions (a
 * stringlist: each base letter after the first, then each multi-letter
 * extension).  Both return the bytes written including NULs; 0 if the
 * string is not rvXX... or the result does not fit in cap. */
size_t guest_isa_base(const char *isa, char *out, size_t cap);
size_t guest_isa_extensions(const char *isa, char *out, size_t cap);
/* Returns the DTB's size, or -1 if it does not fit in cap. */
int guest_dtb_build(const struct guest_dtb_params *p, void *buf, size_t cap);

#endif
