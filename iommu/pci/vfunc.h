/*
 * vfunc.h — a VM's view of one PCI function assigned to it: the virtual
 * config space Umbra emulates (BARs where the VM puts them, a filtered
 * capability list, the command bits it may set).  Portable.
 */
#ifndef UMBRA_IOMMU_PCI_VFUNC_H
#define UMBRA_IOMMU_PCI_VFUNC_H

#include "core/lib/pci.h"

/* ---- A VM's view of one function --------------------------------------- */

#define PCI_VFUNC_MAX_CAPS 16

/* Capability IDs (< 32) a VM may see, as a mask for pci_vfunc_init. */
#define PCI_CAP_ALLOW(id) (1u << (id))
/* Vendor-specific capabilities only: virtio's modern transport finds its
 * registers through them, they are read-only by nature, and hiding
 * MSI/MSI-X/PM keeps a guest from enabling features Umbra does not emulate
 * (it delivers no device interrupt at all: INTx is off on the real device
 * and the guests shipped poll), so a driver does without them. */
#define PCI_VFUNC_CAPS_DEFAULT PCI_CAP_ALLOW(PCI_CAP_ID_VNDR)

struct pci_vbar {
    uint64_t size;               /* as the VM sees it: max(real size, page); 0 = absent */
    uint64_t host_addr;          /* where the real BAR is (PCI bus address) */
    gpaddr_t guest_addr;         /* the VM's current value, aligned to size */
    uint8_t flags;               /* PCI_BAR_* of the real BAR */
};

struct pci_vcap {
    uint8_t offset, length, id;
};

struct pci_vfunc {
    const struct pci_cfg_ops *ops;
    uint16_t bdf;
    uint32_t id;                 /* dword 0x00: device << 16 | vendor */
    uint32_t class_revision;     /* dword 0x08 */
    uint8_t header_type;         /* multifunction bit cleared */
    uint16_t command;            /* the VM's command register */
    uint8_t cache_line_size, latency_timer, interrupt_line;
    struct pci_vbar bar[PCI_MAX_BARS];
    struct pci_vcap cap[PCI_VFUNC_MAX_CAPS];
    unsigned ncaps;
};

/* The VM's view of f, whose BARs are assigned.  guest_bar_addr[i] is the
 * guest-physical (for I/O BARs: guest PCI I/O) address the caller maps BAR i
 * at (ignored for absent BARs and upper halves); it must be aligned to the
 * BAR's VM-visible size and, for 32-bit BARs, below 4 GiB.  cap_allow is a
 * PCI_CAP_ALLOW mask, usually PCI_VFUNC_CAPS_DEFAULT.  The VM's command
 * register starts at 0 (decode and bus mastering off).  On failure vf reads
 * as an empty slot (all ones) and ignores writes. */
int pci_vfunc_init(struct pci_vfunc *vf, const struct pci_cfg_ops *ops, const struct pci_func *f,
                   const gpaddr_t guest_bar_addr[PCI_MAX_BARS], uint32_t cap_allow);

/* pci_vconf_write's result: what the VM changed that the caller must act on. */
#define PCI_VCONF_COMMAND 0x1u               /* command register changed */
#define PCI_VCONF_BAR_MOVED(i) (0x2u << (i)) /* BAR i's guest address changed */

/* A VM's config read of `size` (1, 2 or 4) bytes at `offset` (< 4096,
 * aligned to size).  Anything else reads all ones (of `size` bytes when size
 * is 1 or 2, else 32 bits).  Never touches the device except to read it. */
uint32_t pci_vconf_read(const struct pci_vfunc *vf, unsigned offset, unsigned size);
/* A VM's config write; never writes the device.  Malformed accesses and
 * read-only fields are ignored.  Returns PCI_VCONF_* bits. */
unsigned pci_vconf_write(struct pci_vfunc *vf, unsigned offset, unsigned size, uint32_t val);

static inline uint16_t pci_vfunc_command(const struct pci_vfunc *vf) { return vf->command; }
static inline bool pci_vfunc_bus_master(const struct pci_vfunc *vf)
{
    return (vf->command & PCI_COMMAND_MASTER) != 0;
}
/* BAR i should be mapped into the VM now: it exists and the VM has turned on
 * decoding of its space.  (While the VM sizes a BAR it has decoding off.) */
bool pci_vfunc_bar_live(const struct pci_vfunc *vf, unsigned i);

#endif
