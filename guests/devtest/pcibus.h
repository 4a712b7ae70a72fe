/*
 * pcibus.h — the devtest guest's PCI layer, written as for bare QEMU virt:
 * find the ECAM host bridge in the DTB, scan its first bus, size every
 * memory BAR, give each one an address in the 32-bit memory window, and turn
 * decoding on.  Natively the BARs are unassigned after reset; under Umbra
 * the guest sees a virtual host bridge and does exactly the same.
 *
 * Enumeration, BAR sizing and placement are core/lib/pci.c's (portable, also
 * what Umbra runs on the real bridge); the guest links it.
 */
#ifndef UMBRA_GUESTS_DEVTEST_PCIBUS_H
#define UMBRA_GUESTS_DEVTEST_PCIBUS_H

#include "core/lib/base.h"
#include "core/lib/pci.h"

#define PCIBUS_MAX_FUNCS 32

/* The host bridge as the DTB describes it. */
struct pcibus_host {
    const char *node_name;
    uint64_t ecam_base, ecam_size;    /* CPU address of bus_first's config space */
    unsigned bus_first, bus_last;     /* bus-range, or 0..0 */
    uint64_t mem_pci, mem_cpu;        /* the 32-bit memory window: PCI and CPU address */
    uint64_t mem_size;
};

/* pcibus_bar.flags */
#define PCIBUS_BAR_MEM 0x1           /* an implemented memory BAR */
#define PCIBUS_BAR_MEM64 0x2         /* 64-bit: this register and the next */
#define PCIBUS_BAR_IO 0x4            /* an I/O BAR (left alone) */

struct pcibus_bar {
    uint64_t size;
    uint64_t pci_addr;                /* what the BAR register holds */
    uint64_t cpu_addr;                /* where the CPU reaches it (0 = unassigned) */
    uint8_t flags;
};

struct pcibus_func {
    unsigned bus, dev, fn;
    uint64_t cfg;                     /* CPU address of its 4 KiB of ECAM */
    uint16_t vendor, device;
    uint32_t class_code;              /* base class, subclass, prog-if */
    uint8_t header_type;              /* without the multifunction bit */
    const char *skip_reason;          /* NULL if the guest assigns and drives it */
    struct pcibus_bar bar[PCI_MAX_BARS];
};

struct pcibus {
    struct pcibus_host host;
    struct pci_func found[PCIBUS_MAX_FUNCS];  /* core/lib/pci.c's records */
    struct pci_table table;                   /* over found[] */
    struct pcibus_func funcs[PCIBUS_MAX_FUNCS]; /* the driver's view of each */
    unsigned count;
    bool truncated;                   /* more functions than funcs[] holds */
};

/* Fill b->host from the first "pci-host-ecam-generic" node anywhere in the
 * tree.  False, with a line saying why, if there is none or it is unusable. */
bool pcibus_find_host(const void *dtb, struct pcibus *b);

/* Record every function of bus_first and size its BARs. */
void pcibus_scan(struct pcibus *b);

/* Give each memory BAR an address in the window (largest first), program
 * it, disable the ROM BAR, MSI and MSI-X,
 * put the function in D0 and turn on memory decoding (bus mastering is the
 * driver's business).  False, with a line, if the window is too small. */
bool pcibus_assign(struct pcibus *b);

/* One line per function: bdf, ids, class and its BARs (or why skipped). */
void pcibus_print(const struct pcibus *b);

/* Let a function DMA (command register bus-master bit). */
void pcibus_enable_master(const struct pcibus_func *f);

/* Config space of (dev, fn) on bus_first, present or not. */
uint64_t pcibus_cfg_addr(const struct pcibus *b, unsigned dev, unsigned fn);

#endif
