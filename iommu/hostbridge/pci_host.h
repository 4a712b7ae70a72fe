/*
 * pci_host.h — the machine's PCI host bridge (QEMU virt's ECAM): found in
 * the DTB, bus 0 enumerated and every BAR given an address at boot
 * (core/lib/pci.c does the portable work).  iommu/passthrough/vpci.c assigns functions to
 * VMs.
 */
#ifndef UMBRA_CORE_PCI_HOST_H
#define UMBRA_CORE_PCI_HOST_H

#include "core/lib/pci.h"

#define PCI_HOST_MAX_FUNCS 32

struct pci_host {
    bool present;
    paddr_t ecam;
    uint64_t ecam_size;
    struct pci_windows windows;
    paddr_t io_cpu_base;           /* CPU address of PCI I/O address 0 */
    struct pci_func funcs[PCI_HOST_MAX_FUNCS];
    struct pci_table table;
};

extern struct pci_host pci_host;
/* Config accesses through the host bridge's ECAM. */
extern const struct pci_cfg_ops pci_host_ops;

/* Enumerate bus 0 and assign every BAR.  0, or -1 with a sentence in err. */
int pci_host_init(const void *fdt, char *err, size_t errlen);

#endif
