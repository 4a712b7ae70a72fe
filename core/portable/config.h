/*
 * config.h — the run-time configuration Umbra boots with.
 *
 * tools/umbra-run writes a small line-oriented text ("key=value" per line),
 * stages it in host RAM next to the guest images and passes its address on
 * Umbra's command line (umbra.config=0xADDR).  config_parse() turns that text
 * into a struct umbra_config; everything after parsing (creating the VMs,
 * copying the images) works from the struct only.
 *
 * Text format (blank lines and lines starting with '#' are ignored; a value
 * runs to the end of its line, so it may contain spaces):
 *   global keys, before the first vm=:
 *     staging=0xHEX        start of the staging area (required)
 *     trace=mm[,...]       trace flags; may repeat
 *     monitor=0|1          the monitor shell (core/monitor/): guests wait for
 *                          its `continue`, and it takes the console's input
 *     ptdump=end|CAUSE:N   print a page-table dump of every VM at its end, or
 *                          when a vCPU takes its Nth exit of CAUSE (an exit
 *                          cause name, N >= 1; after the exit, and for
 *                          sfence_* also before its sync); may repeat, up
 *                          to CONFIG_MAX_PTDUMPS
 *   vm=NAME                starts a VM (1-15 chars of [A-Za-z0-9_-])
 *   per-VM keys:
 *     mode=hap|tsp|ssp     memory-virtualization mode (default hap)
 *     mem=BYTES            decimal or 0x hex, multiple of 2 MiB (default 128 MiB)
 *     cpus=N               1..8 (default 1)
 *     kernel=0xADDR,0xSIZE staged kernel image (required)
 *     initrd=0xADDR,0xSIZE staged initrd (optional)
 *     append=TEXT          guest command line (up to 1023 chars)
 *     sptbuf=N             ssp's SPT base buffer entries, 0..64 (default 16)
 *     shadow_pool=BYTES    tsp/ssp shadow-table pool (default RAM / 8, >= 64 KiB)
 *     pci=BB:DD.F          assign the host PCI function (hex bus:device.function)
 *                          to this VM; may repeat, up to CONFIG_MAX_PCI_PER_VM
 *     viommu=shadow|nested|sidecore  the VM gets a RISC-V IOMMU of its own
 *                          for its assigned functions (iommu/viommu/); needs
 *                          pci=; sidecore also a hart without a vCPU
 *     share=BB:DD.F        the host PCI function (an edu) is shared with the
 *                          other VMs that name it (iommu/share/): at most one
 *                          per VM, never also a pci= anywhere
 *     share_mode=switch|rewrite  how its DMA reaches the VM's RAM (default
 *                          switch); every VM sharing a function says the same
 *     mem_backing=eager|lazy  RAM allocated whole at creation (default) or
 *                          page by page on first touch (mm/lazy_ram.h)
 *     reclaim=MS           every MS milliseconds take back the VM's unpinned
 *                          all-zero pages (0 = never, the default); not with
 *                          viommu=sidecore
 *     dma_pinning=static|viommu|coiommu  which pages its devices may DMA to
 *                          (iommu/pinning/): all RAM (default), those mapped
 *                          through its vIOMMU (needs viommu=shadow), or those
 *                          the guest announces in its coIOMMU DMA tracking
 *                          table (needs pci=, no viommu=)
 *
 * Portable: built into the hypervisor and into the host unit tests.
 */
#ifndef UMBRA_CORE_CONFIG_H
#define UMBRA_CORE_CONFIG_H

#include "core/lib/base.h"

#define CONFIG_MAX_VMS 8
#define CONFIG_NAME_MAX 16        /* including NUL */
#define CONFIG_APPEND_MAX 1024    /* including NUL */
/* Each vCPU is pinned to its own hart, and the runner starts at most this
 * many harts: the limit holds per VM and over all VMs together. */
#define CONFIG_MAX_CPUS 8

#define CONFIG_TRACE_MM (1u << 0)
#define CONFIG_DEFAULT_SPTBUF 16
#define CONFIG_MAX_SPTBUF 64      /* = SPTBUF_MAX */
#define CONFIG_MAX_PCI_PER_VM 4
#define CONFIG_MAX_PTDUMPS 4
#define CONFIG_PTDUMP_AT_END (-1)  /* ptdump_trigger.cause: when the VM ends */

enum mm_mode { MM_MODE_HAP, MM_MODE_TSP, MM_MODE_SSP };

/* "hap", "tsp", "ssp" ("?" for a value outside the enum). */
const char *mm_mode_name(enum mm_mode mode);

/* How a VM's own IOMMU is provided (iommu/viommu/viommu.h); off = none. */
enum viommu_mode { VIOMMU_OFF, VIOMMU_SHADOW, VIOMMU_NESTED, VIOMMU_SIDECORE };
/* "off", "shadow", "nested", "sidecore" ("?" outside the enum). */
const char *viommu_mode_name(enum viommu_mode mode);

/* How a shared device's DMA reaches its owner's RAM (iommu/share/share.h). */
enum share_mode { SHARE_SWITCH, SHARE_REWRITE };
/* "switch", "rewrite" ("?" outside the enum). */
const char *share_mode_name(enum share_mode mode);

enum mem_backing { MEM_BACKING_EAGER, MEM_BACKING_LAZY };
enum dma_pinning { DMA_PINNING_STATIC, DMA_PINNING_VIOMMU, DMA_PINNING_COIOMMU };
/* "eager", "lazy" / "static", "viommu", "coiommu" ("?" outside the enum). */
const char *mem_backing_name(enum mem_backing b);
const char *dma_pinning_name(enum dma_pinning p);

struct image_ref {
    paddr_t addr;        /* where the runner staged the image in host RAM */
    uint64_t size;       /* bytes; 0 = absent */
};

struct vm_config {
    char name[CONFIG_NAME_MAX];
    enum mm_mode mode;
    uint64_t mem;        /* guest RAM bytes, a multiple of 2 MiB */
    unsigned cpus;
    struct image_ref kernel, initrd;
    char append[CONFIG_APPEND_MAX];
    unsigned sptbuf;     /* ssp: SPT base buffer entries (0 disables), default 16 */
    uint64_t shadow_pool;/* tsp/ssp: bytes for shadow tables; 0 = default (mem / 8) */
    unsigned npci;       /* PCI functions assigned to the VM */
    uint16_t pci[CONFIG_MAX_PCI_PER_VM]; /* their bus/device/function (pci_bdf layout) */
    enum viommu_mode viommu;
    unsigned share_mask; /* bit i: pci[i] is shared (share=), at most one bit */
    enum share_mode share_mode;
    enum mem_backing mem_backing;
    uint32_t reclaim_ms; /* 0 = never */
    enum dma_pinning dma_pinning;
};

/* Is the VM's RAM kept page by page (lazy backing, reclaim or a pinning
 * that tracks pages), rather than as one block? */
bool config_ram_paged(const struct vm_config *vm);

/* When to print a page-table dump (docs/ptdump.md). */
struct ptdump_trigger {
    int cause;           /* an enum exit_cause, or CONFIG_PTDUMP_AT_END */
    uint64_t nth;        /* the vCPU's nth exit of that cause (1 = the first) */
};

struct umbra_config {
    paddr_t staging;     /* start of the staging area (config text, images) */
    unsigned trace;      /* CONFIG_TRACE_* bits */
    bool monitor;        /* the monitor shell runs on a hart of its own */
    unsigned nptdumps;
    struct ptdump_trigger ptdumps[CONFIG_MAX_PTDUMPS];
    unsigned nvms;
    struct vm_config vms[CONFIG_MAX_VMS];
};

/*
 * Parse `len` bytes of config text (stops early at a NUL).  Returns 0 on
 * success; on error returns -1 and writes a one-line message
 * "config line N: what is wrong" into err (if errlen > 0).  `out` is fully
 * rewritten either way.
 *
 * Defaults: mode hap, mem 128 MiB, cpus 1.  Errors: unknown key, global key
 * after the first vm=, per-VM key before any vm=, bad number, missing kernel,
 * kernel plus initrd not fitting in mem above the kernel offset (2 MiB),
 * duplicate VM name, more than CONFIG_MAX_VMS VMs, cpus 0 or more than
 * CONFIG_MAX_CPUS (per VM or in total), mem not a multiple of 2 MiB or below
 * 2 MiB, append too long, a malformed pci= or one function assigned twice
 * (to one VM or two), more than CONFIG_MAX_PCI_PER_VM pci= in a VM, a
 * second share= in a VM, a function both pci= and share=, sharers whose
 * share_mode differs or one that has viommu=, invalid name, unknown mode or trace flag, no VMs at
 * all, missing staging.  Errors found only at the end of the text (a VM
 * without kernel) name the line of that VM's vm=.
 */
int config_parse(const char *text, size_t len, struct umbra_config *out, char *err, size_t errlen);

/* The function the VM shares (share=), or -1. */
int config_shared_bdf(const struct vm_config *vm);

/* The i-th key the parser accepts (i = 0, 1, ...; NULL past the last), for
 * the test that every key is documented. */
const char *config_key_name(unsigned i);

#endif
