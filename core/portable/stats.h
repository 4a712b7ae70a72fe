/*
 * stats.h — exit accounting: one taxonomy of exit causes, per-VM counters
 * split into full exits and fast-path traps, and the two ways they are
 * reported when a VM ends: a human-readable table and a CSV row (which
 * Umbra prints as "@csv-header ..." and "@csv ..." console lines for
 * tools/umbra-run to collect).  docs/exit-report.md explains every column.
 *
 * Portable: built into the hypervisor and into the host unit tests.
 */
#ifndef UMBRA_CORE_STATS_H
#define UMBRA_CORE_STATS_H

#include "core/lib/base.h"

/* Adding a cause: add it before EXIT_CAUSE_COUNT and give it a name in
 * stats.c (a _Static_assert there catches a missing one).  The CSV columns
 * follow this order, so append rather than insert where possible. */
enum exit_cause {
    EXIT_SATP_WRITE_HIT,
    EXIT_SATP_WRITE_MISS,
    EXIT_SATP_READ,
    EXIT_SFENCE_ALL,
    EXIT_SFENCE_ASID,
    EXIT_SFENCE_VA,
    EXIT_SFENCE_VA_ASID,
    EXIT_WP_FAULT,
    EXIT_HIDDEN_FAULT,
    EXIT_GUEST_FAULT_INJECTED,
    EXIT_AD_UPDATE,
    EXIT_GSTAGE_FAULT,
    EXIT_MMIO,
    EXIT_SBI_BASE,
    EXIT_SBI_TIME,
    EXIT_SBI_IPI,
    EXIT_SBI_RFENCE,
    EXIT_SBI_HSM,
    EXIT_SBI_SRST,
    EXIT_SBI_DBCN,
    EXIT_SBI_LEGACY,
    EXIT_SBI_OTHER,
    EXIT_TIMER,
    EXIT_IPI,
    EXIT_EXTERNAL,
    EXIT_WFI,
    EXIT_ILLEGAL,
    EXIT_OTHER,
    EXIT_SBI_FWFT,          /* appended: the CSV columns keep their order */
    EXIT_SBI_DBTR,
    EXIT_VIOMMU_MMIO,       /* a guest access to its vIOMMU's registers (iommu/viommu/) */
    EXIT_SHARE_MMIO,        /* a guest access to a shared device's registers (iommu/share/) */
    EXIT_MEM_BACK,          /* hap: a G-stage fault on RAM not mapped yet (backed now, mm/lazy_ram.h) */
    EXIT_COIOMMU_MMIO,      /* a guest access to its coIOMMU's registers (iommu/pinning/) */
    EXIT_CAUSE_COUNT
};

/* Lower snake case of the enum name without EXIT_ ("satp_write_hit", ...);
 * "?" for a value outside the enum. */
const char *exit_cause_name(enum exit_cause cause);
/* sfence_all, sfence_asid, sfence_va, sfence_va_asid (consecutive above). */
static inline bool exit_cause_is_sfence(enum exit_cause c)
{
    return c >= EXIT_SFENCE_ALL && c <= EXIT_SFENCE_VA_ASID;
}

/* Memory-virtualization figures that are not exits: the SPT base buffer,
 * the shadow pool and the work shadow paging did (0 in hap), and the
 * passthrough of assigned PCI devices (any mode). */
enum mm_counter {
    MM_SPTBUF_HITS, MM_SPTBUF_MISSES, MM_SPTBUF_EVICTIONS,
    MM_SHADOW_PAGES_PEAK, MM_SHADOW_ROOTS_BUILT, MM_SHADOW_ROOTS_RECLAIMED,
    MM_SHADOW_POOL_EXHAUSTED, MM_SYNC_VA, MM_SYNC_ASID, MM_SYNC_ALL,
    MM_ENTRIES_DROPPED, MM_WP_EMULATED, MM_WP_UNSHADOWED, MM_REMOTE_FLUSHES,
    MM_IOMMU_COMMANDS, MM_IOMMU_FAULTS, MM_BAR_MAPS,
    /* Levels, not counts: pages the VM held of Umbra's frame pool and of its
     * shadow pool when it was created and when it ended (tools/umbra-soak
     * checks that they come back). */
    MM_FRAME_POOL_START, MM_FRAME_POOL_END, MM_SHADOW_POOL_START, MM_SHADOW_POOL_END,
    /* The VM's own IOMMU (iommu/viommu/, 0 without --viommu): the guest's
     * commands run, device contexts read, fault records given to it or
     * lost, shadow syncs and leaves, and the machine IOMMU's commands it
     * cost. */
    MM_VIOMMU_COMMANDS, MM_VIOMMU_DC_LOADS, MM_VIOMMU_FAULTS_RECORDED, MM_VIOMMU_FAULTS_LOST,
    MM_VIOMMU_SYNCS_PAGE, MM_VIOMMU_SYNCS_SPACE, MM_VIOMMU_LEAVES_MAPPED, MM_VIOMMU_LEAVES_UNMAPPED,
    MM_VIOMMU_POOL_EXHAUSTED, MM_VIOMMU_HOST_COMMANDS,
    MM_VIOMMU_SIDECORE_POLLS, MM_VIOMMU_SIDECORE_BUSY_POLLS, MM_VIOMMU_SIDECORE_WORK_INSTRET,
    MM_VIOMMU_SIDECORE_IDLE_INSTRET,
    /* A device shared with other VMs (iommu/share/, 0 without share=): its
     * DMA requests forwarded and refused, the owner switches to this VM,
     * the IOMMU commands and Umbra instructions they cost, the device
     * buffer saved for it and restored to it, and (rewrite) the addresses
     * of its requests rewritten and the Umbra instructions that took. */
    MM_SHARE_TRANSFERS, MM_SHARE_REFUSED, MM_SHARE_SWITCHES, MM_SHARE_SWITCH_COMMANDS,
    MM_SHARE_SWITCH_INSTRET, MM_SHARE_SAVES, MM_SHARE_RESTORES,
    MM_SHARE_REWRITES, MM_SHARE_REWRITE_INSTRET,
    /* RAM kept page by page (mm/lazy_ram.h; 0 for RAM in one block):
     * pages backed at the peak and at the end, frames allocated for a
     * first touch, pages reclaimed, reclaim runs and their instructions. */
    MM_MEM_BACKED_PEAK, MM_MEM_BACKED_END, MM_MEM_BACKS, MM_MEM_RECLAIMED, MM_MEM_RECLAIM_RUNS,
    MM_MEM_RECLAIM_INSTRET,
    /* DMA pinning (iommu/pinning/): pages pinned at the peak and at the
     * end, pins taken and dropped, pins refused; coIOMMU: notifications,
     * pages it pinned and unpinned, unpin scans and the second chances
     * they gave. */
    MM_DMA_PINNED_PEAK, MM_DMA_PINNED_END, MM_DMA_PINS, MM_DMA_UNPINS, MM_DMA_PINS_REFUSED,
    MM_COIOMMU_NOTIFIES, MM_COIOMMU_PINNED, MM_COIOMMU_UNPINNED, MM_COIOMMU_SCANS, MM_COIOMMU_SECOND_CHANCES,
    /* ssp wide fences: leaves found current and kept, trees emptied
     * because the fill log had overflowed. */
    MM_RESYNC_KEPT, MM_RESYNC_EMPTIED,
    /* ssp one-page fences left for shadows no vCPU ran on, fences applied
     * when such a shadow was next switched to, and shadows emptied instead
     * because they had missed more fences than the log holds. */
    MM_FENCES_DEFERRED, MM_FENCES_REPLAYED, MM_CATCHUPS_EMPTIED,
    /* Shadow faults decided along a shadow path that already existed,
     * without the general walk and path builder (mm/shadow.c). */
    MM_FAULTS_QUICK,
    MM_COUNTER_COUNT
};
/* names: "sptbuf_hits", ..., lower snake case of the enum without MM_ */
const char *mm_counter_name(enum mm_counter counter);

struct exit_stats {
    uint64_t full[EXIT_CAUSE_COUNT];   /* traps handled by the general exit handler */
    uint64_t fast[EXIT_CAUSE_COUNT];   /* traps handled on the fast path */
    uint64_t instret_guest;            /* instructions retired while the guest ran */
    uint64_t instret_umbra;            /* instructions retired inside Umbra on the guest's behalf */
    uint64_t faults_injected;          /* exceptions Umbra injected into the guest (access faults etc.) */
    uint64_t mm[MM_COUNTER_COUNT];     /* see enum mm_counter */
};

static inline void stats_count_full(struct exit_stats *s, enum exit_cause c) { s->full[c]++; }
static inline void stats_count_fast(struct exit_stats *s, enum exit_cause c) { s->fast[c]++; }

/* dst += src, field by field (e.g. per-vCPU counters into the VM's). */
void stats_merge(struct exit_stats *dst, const struct exit_stats *src);
uint64_t stats_total_full(const struct exit_stats *s);
uint64_t stats_total_fast(const struct exit_stats *s);

/* What the reports say about the run besides the counters.  NULL strings
 * are printed as "?" in the table and as empty fields in the CSV. */
struct stats_run_info {
    const char *vm_name;
    const char *mode;
    unsigned cpus;
    uint64_t mem;
    int status;
    const char *end_reason;
    int sptbuf_size;                   /* ssp's buffer size; -1 when the mode has none */
};

/* Human table: a title line (VM name, mode, cpus, mem, status, end reason),
 * a column header, one row per cause with a non-zero count (cause, full,
 * fast), the totals, instructions retired in the guest and in Umbra with
 * Umbra's share in percent (one decimal, integer math), and the faults
 * injected.  Lines end with '\n'.  Returns the length the whole table needs
 * (like snprintf); the output is always NUL-terminated when cap > 0. */
size_t stats_format_table(char *buf, size_t cap, const struct stats_run_info *info,
                          const struct exit_stats *s);

/* CSV header: "vm,mode,cpus,mem,status,end_reason,exits_full,exits_fast,
 * instret_guest,instret_umbra,faults_injected", then "full_<cause>" for
 * every cause and "fast_<cause>" for every cause, in enum order, then
 * "sptbuf_size" and "mm_<counter>" for every mm counter.  The row has
 * the same columns; a text field holding a comma, quote or line break is
 * quoted as in RFC 4180.  No trailing newline.  Return values as above. */
size_t stats_format_csv_header(char *buf, size_t cap);
size_t stats_format_csv_row(char *buf, size_t cap, const struct stats_run_info *info,
                            const struct exit_stats *s);

#endif
