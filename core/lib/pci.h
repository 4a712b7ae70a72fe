/*
 * pci.h — PCI enumeration: an ECAM host bridge's functions, BAR sizing and
 * assignment (shared by Umbra and the devtest guest).  The virtual config
 * space a VM sees is in iommu/pci/vfunc.h.
 *
 * Portable: no MMIO here.  Every config-space access goes through a
 * struct pci_cfg_ops, so Umbra plugs in the real ECAM and the host unit tests
 * plug in a model of a few devices.  Only bus 0 is scanned: QEMU's riscv64
 * `virt` puts every -device on the host bridge's root bus, and a bridge found
 * there is recorded but not walked.
 */
#ifndef UMBRA_CORE_PCI_H
#define UMBRA_CORE_PCI_H

#include "core/lib/base.h"

/* ---- Addresses --------------------------------------------------------- */

#define PCI_MAX_DEVS 32
#define PCI_MAX_FNS 8
#define PCI_CFG_SIZE 4096u       /* one function's ECAM config space */

/* A function's address as bus[15:8] dev[7:3] fn[2:0], the layout the IOMMU's
 * device ID and the ECAM offset both use. */
static inline uint16_t pci_bdf(unsigned bus, unsigned dev, unsigned fn)
{
    return (uint16_t)(((bus & 0xffu) << 8) | ((dev & 0x1fu) << 3) | (fn & 0x7u));
}
static inline unsigned pci_bdf_bus(uint16_t bdf) { return bdf >> 8; }
static inline unsigned pci_bdf_dev(uint16_t bdf) { return (bdf >> 3) & 0x1fu; }
static inline unsigned pci_bdf_fn(uint16_t bdf) { return bdf & 0x7u; }

/* Byte offset of config register `reg` of (bus, dev, fn) from the ECAM base:
 * 1 MiB per bus, 32 KiB per device, 4 KiB per function. */
static inline uint64_t pci_ecam_offset(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
    return ((uint64_t)(bus & 0xffu) << 20) | ((uint64_t)(dev & 0x1fu) << 15) |
           ((uint64_t)(fn & 0x7u) << 12) | (reg & 0xfffu);
}
static inline uint64_t pci_ecam_offset_bdf(uint16_t bdf, unsigned reg)
{
    return ((uint64_t)bdf << 12) | (reg & 0xfffu);
}

/* ---- Config-space registers used here ---------------------------------- */

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CLASS_REVISION 0x08    /* class[31:8] revision[7:0] */
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER 0x0d
#define PCI_HEADER_TYPE 0x0e
#define PCI_BIST 0x0f
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_ROM_ADDRESS 0x30       /* header type 0 */
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_PARITY 0x0040
#define PCI_COMMAND_SERR 0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400

#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_CAP_LIST 0x0010

#define PCI_HEADER_TYPE_MASK 0x7f
#define PCI_HEADER_TYPE_NORMAL 0
#define PCI_HEADER_TYPE_BRIDGE 1
#define PCI_HEADER_MULTIFUNCTION 0x80

#define PCI_BAR_SPACE_IO 0x1u
#define PCI_BAR_MEM_TYPE_64 0x4u
#define PCI_BAR_MEM_PREFETCH 0x8u

#define PCI_CAP_ID_PM 0x01
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_EXP 0x10
#define PCI_CAP_ID_MSIX 0x11

/* ---- Config access ----------------------------------------------------- */

/* 32-bit accesses at dword-aligned `reg` (< 4096) of function `bdf`.  A
 * function that is not there reads all ones, as ECAM does. */
struct pci_cfg_ops {
    uint32_t (*read32)(void *ctx, uint16_t bdf, unsigned reg);
    void (*write32)(void *ctx, uint16_t bdf, unsigned reg, uint32_t val);
    void *ctx;
};

/* Reads of 1, 2 or 4 bytes, built from read32; a misaligned or
 * out-of-range one reads all ones without touching the device. */
uint32_t pci_cfg_read(const struct pci_cfg_ops *ops, uint16_t bdf, unsigned reg, unsigned size);
/* Writes the command register without touching the status register's
 * write-one-to-clear bits that share its dword. */
void pci_cfg_write_command(const struct pci_cfg_ops *ops, uint16_t bdf, uint16_t command);
/* Offset of the first capability with this ID in the standard list, or 0. */
unsigned pci_find_capability(const struct pci_cfg_ops *ops, uint16_t bdf, uint8_t id);

/* ---- Errors ------------------------------------------------------------ */

enum pci_err {
    PCI_OK = 0,
    PCI_ERR_TABLE_FULL = -1,    /* more functions than the table holds */
    PCI_ERR_WINDOW_FULL = -2,   /* a BAR did not fit in its window */
    PCI_ERR_NOT_ENDPOINT = -3,  /* only header type 0 can be passed through */
    PCI_ERR_BAD_GUEST_BAR = -4, /* guest BAR address misaligned or out of range */
    PCI_ERR_BAR_UNASSIGNED = -5, /* a BAR of the function has no address */
};
const char *pci_strerror(int err);

/* ---- Enumeration and BARs ---------------------------------------------- */

#define PCI_MAX_BARS 6
#define PCI_LIMIT_4G 0x100000000ull   /* 32-bit BARs and I/O stay below */

/* pci_bar.flags */
#define PCI_BAR_IO 0x01          /* I/O space (else memory) */
#define PCI_BAR_MEM64 0x02       /* 64-bit memory: this register and the next */
#define PCI_BAR_PREFETCH 0x04
#define PCI_BAR_UPPER 0x08       /* upper half of the previous 64-bit BAR */
#define PCI_BAR_ASSIGNED 0x10    /* addr is valid and programmed */

struct pci_bar {
    uint64_t size;               /* bytes; 0 = not implemented (or UPPER) */
    uint64_t addr;               /* PCI bus address once ASSIGNED */
    uint8_t flags;
};

struct pci_func {
    uint16_t bdf;
    uint16_t vendor, device;
    uint32_t class_code;         /* base class[23:16] subclass[15:8] prog-if[7:0] */
    uint8_t revision;
    uint8_t header_type;         /* as read: includes PCI_HEADER_MULTIFUNCTION */
    uint8_t irq_pin;             /* 0 = none, 1..4 = INTA..INTD */
    uint8_t nbars;               /* BAR registers the header has: 6, 2 or 0 */
    struct pci_bar bar[PCI_MAX_BARS];
};

struct pci_table {
    struct pci_func *funcs;
    unsigned cap;
    unsigned count;
};

/* Scans every device and function of `bus` (functions 1-7 only when
 * function 0 has the multifunction bit), sizes each found function's BARs and
 * appends it to t.  PCI_ERR_TABLE_FULL if more functions exist than fit (the
 * first t->cap are recorded). */
int pci_enumerate(const struct pci_cfg_ops *ops, unsigned bus, struct pci_table *t);

/* Fills f->bar[] by the write-all-ones probe, with the function's I/O and
 * memory decoding off meanwhile; every BAR and the command register are
 * restored afterwards.  Needs f->bdf and f->header_type. */
void pci_size_bars(const struct pci_cfg_ops *ops, struct pci_func *f);

/* An address range BARs are carved from, lowest address first. */
struct pci_window {
    uint64_t base, size;
    uint64_t next;               /* first free address */
};

struct pci_windows {
    struct pci_window mem32;     /* 32-bit BARs, and 64-bit ones that miss mem64; only
                                  * its part below 4 GiB is used */
    struct pci_window mem64;     /* 64-bit BARs; size 0 if there is none */
    struct pci_window io;        /* PCI I/O addresses (not CPU addresses) */
};

void pci_window_init(struct pci_window *w, uint64_t base, uint64_t size);
/* Naturally aligned (at least page-aligned) block of `size`; false if full. */
bool pci_window_alloc(struct pci_window *w, uint64_t size, uint64_t *addr);

/* Where assignment first failed. */
struct pci_assign_error {
    uint16_t bdf;
    uint8_t bar;
    uint8_t flags;
    uint64_t size;
};

/* Gives every implemented BAR of the table an address, largest BARs first
 * (that packs naturally-aligned blocks without holes), and programs it into
 * the device.  Each BAR takes at least a whole page so that the G-stage can
 * map it to one VM without exposing a neighbour.  Command registers are not
 * touched: decoding stays as it was (off after reset).  A BAR that does not
 * fit is left unassigned and the others still get addresses; the result is
 * then PCI_ERR_WINDOW_FULL and *err (may be NULL) names the first failure. */
int pci_assign(const struct pci_cfg_ops *ops, struct pci_table *t, struct pci_windows *w,
               struct pci_assign_error *err);

/* ---- Helpers shared with the virtual config space ---------------------- */

#define PCI_CAP_LIST_MIN 0x40    /* capabilities live after the header */
#define PCI_STD_CFG_SIZE 0x100   /* the conventional (non-extended) space */
#define PCI_MAX_CAPS_WALKED 48   /* (0x100 - 0x40) / 4: more means a loop */

/* All ones in an access of `size` bytes (sizes other than 1 and 2: 32 bits). */
uint32_t pci_cfg_size_mask(unsigned size);
/* A 1-, 2- or 4-byte access naturally aligned inside one function's space. */
bool pci_cfg_access_ok(unsigned offset, unsigned size);
/* The standard capability list of bdf: offsets and IDs of at most max
 * entries (a loop or a pointer into the header ends the walk). */
unsigned pci_cap_walk(const struct pci_cfg_ops *ops, uint16_t bdf, uint8_t *offs, uint8_t *ids, unsigned max);

#endif
