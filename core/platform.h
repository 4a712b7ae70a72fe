/*
 * platform.h — what Umbra learned about the machine from the DTB OpenSBI
 * handed it, and how it ends the machine.
 */
#ifndef UMBRA_CORE_PLATFORM_H
#define UMBRA_CORE_PLATFORM_H

#include "core/lib/base.h"

#define PLATFORM_ISA_MAX 512

struct platform {
    const void *fdt;
    paddr_t ram_base;
    uint64_t ram_size;
    uint32_t timebase_hz;
    char isa[PLATFORM_ISA_MAX];   /* riscv,isa of the first hart */
    char mmu_type[32];
    uint32_t cbom_block, cboz_block, cbop_block;   /* first hart's cache-block sizes; 0 = none */
    paddr_t uart_base;            /* 0 = none found: fall back to SBI */
    unsigned uart_reg_shift;
    paddr_t test_base;            /* sifive,test finisher; 0 = none */
    paddr_t iommu_base;           /* riscv,iommu registers; 0 = no IOMMU */
    paddr_t pci_ecam_base;        /* pci-host-ecam-generic config space; 0 = none */
    uint64_t pci_ecam_size;
    const char *bootargs;
};

extern struct platform platform;

/* Machine exit codes, seen by tools/umbra-run as QEMU's exit status. */
enum machine_status {
    MACHINE_OK = 0,
    MACHINE_GUEST_FAILURE = 1,
    MACHINE_PANIC = 3,
    MACHINE_BAD_CONFIG = 4,
};

int platform_probe(const void *fdt, unsigned long boot_hartid, char *err, size_t errlen);
bool platform_isa_has(const char *extension);
_Noreturn void machine_exit(enum machine_status status);

#endif
