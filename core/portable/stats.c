/*
 * stats.c — exit-cause names, counter arithmetic and the two report formats
 * (human table and CSV) declared in stats.h.  The CSV is what the benchmark
 * harness reads, so its column set and order are a contract: see
 * docs/exit-report.md before changing them.
 */
#include "core/portable/stats.h"
#include "core/lib/fmt.h"

static const char *const exit_cause_names[] = {
    [EXIT_SATP_WRITE_HIT] = "satp_write_hit",
    [EXIT_SATP_WRITE_MISS] = "satp_write_miss",
    [EXIT_SATP_READ] = "satp_read",
    [EXIT_SFENCE_ALL] = "sfence_all",
    [EXIT_SFENCE_ASID] = "sfence_asid",
    [EXIT_SFENCE_VA] = "sfence_va",
    [EXIT_SFENCE_VA_ASID] = "sfence_va_asid",
    [EXIT_WP_FAULT] = "wp_fault",
    [EXIT_HIDDEN_FAULT] = "hidden_fault",
    [EXIT_GUEST_FAULT_INJECTED] = "guest_fault_injected",
    [EXIT_AD_UPDATE] = "ad_update",
    [EXIT_GSTAGE_FAULT] = "gstage_fault",
    [EXIT_MMIO] = "mmio",
    [EXIT_SBI_BASE] = "sbi_base",
    [EXIT_SBI_TIME] = "sbi_time",
    [EXIT_SBI_IPI] = "sbi_ipi",
    [EXIT_SBI_RFENCE] = "sbi_rfence",
    [EXIT_SBI_HSM] = "sbi_hsm",
    [EXIT_SBI_SRST] = "sbi_srst",
    [EXIT_SBI_DBCN] = "sbi_dbcn",
    [EXIT_SBI_LEGACY] = "sbi_legacy",
    [EXIT_SBI_OTHER] = "sbi_other",
    [EXIT_SBI_FWFT] = "sbi_fwft",
    [EXIT_SBI_DBTR] = "sbi_dbtr",
    [EXIT_VIOMMU_MMIO] = "viommu_mmio",
    [EXIT_SHARE_MMIO] = "share_mmio",
    [EXIT_MEM_BACK] = "mem_back",
    [EXIT_COIOMMU_MMIO] = "coiommu_mmio",
    [EXIT_TIMER] = "timer",
    [EXIT_IPI] = "ipi",
    [EXIT_EXTERNAL] = "external",
    [EXIT_WFI] = "wfi",
    [EXIT_ILLEGAL] = "illegal",
    [EXIT_OTHER] = "other",
};
/* A cause added to the enum without a name here would print as NULL. */
_Static_assert(ARRAY_SIZE(exit_cause_names) == EXIT_CAUSE_COUNT, "every exit cause needs a name");

static const char *const mm_counter_names[] = {
    "sptbuf_hits", "sptbuf_misses", "sptbuf_evictions",
    "shadow_pages_peak", "shadow_roots_built", "shadow_roots_reclaimed",
    "shadow_pool_exhausted", "sync_va", "sync_asid", "sync_all",
    "entries_dropped", "wp_emulated", "wp_unshadowed", "remote_flushes",
    "iommu_commands", "iommu_faults", "bar_maps",
    "frame_pool_start", "frame_pool_end", "shadow_pool_start", "shadow_pool_end",
    "viommu_commands", "viommu_dc_loads", "viommu_faults_recorded", "viommu_faults_lost",
    "viommu_syncs_page", "viommu_syncs_space", "viommu_leaves_mapped", "viommu_leaves_unmapped",
    "viommu_pool_exhausted", "viommu_host_commands",
    "viommu_sidecore_polls", "viommu_sidecore_busy_polls", "viommu_sidecore_work_instret",
    "viommu_sidecore_idle_instret",
    "share_transfers", "share_refused", "share_switches", "share_switch_commands",
    "share_switch_instret", "share_saves", "share_restores", "share_rewrites", "share_rewrite_instret",
    "mem_backed_peak", "mem_backed_end", "mem_backs", "mem_reclaimed", "mem_reclaim_runs", "mem_reclaim_instret",
    "dma_pinned_peak", "dma_pinned_end", "dma_pins", "dma_unpins", "dma_pins_refused",
    "coiommu_notifies", "coiommu_pinned", "coiommu_unpinned", "coiommu_scans", "coiommu_second_chances",
    "resync_kept", "resync_emptied",
    "fences_deferred", "fences_replayed", "catchups_emptied",
    "faults_quick",
};
_Static_assert(ARRAY_SIZE(mm_counter_names) == MM_COUNTER_COUNT, "every mm counter needs a name");

const char *mm_counter_name(enum mm_counter counter)
{
    if ((unsigned)counter >= MM_COUNTER_COUNT)
        return "?";
    return mm_counter_names[counter];
}

const char *exit_cause_name(enum exit_cause cause)
{
    if ((unsigned)cause >= EXIT_CAUSE_COUNT)
        return "?";
    return exit_cause_names[cause];
}

void stats_merge(struct exit_stats *dst, const struct exit_stats *src)
{
    for (unsigned c = 0; c < EXIT_CAUSE_COUNT; c++) {
        dst->full[c] += src->full[c];
        dst->fast[c] += src->fast[c];
    }
    dst->instret_guest += src->instret_guest;
    dst->instret_umbra += src->instret_umbra;
    dst->faults_injected += src->faults_injected;
    for (unsigned m = 0; m < MM_COUNTER_COUNT; m++)
        dst->mm[m] += src->mm[m];
}

static uint64_t sum_counts(const uint64_t counts[EXIT_CAUSE_COUNT])
{
    uint64_t total = 0;
    for (unsigned c = 0; c < EXIT_CAUSE_COUNT; c++)
        total += counts[c];
    return total;
}

uint64_t stats_total_full(const struct exit_stats *s) { return sum_counts(s->full); }
uint64_t stats_total_fast(const struct exit_stats *s) { return sum_counts(s->fast); }

/* ---- output buffer --------------------------------------------------------- */

/* Appends like snprintf: `len` keeps counting past `cap` so the caller learns
 * the size it would have needed. */
struct sink {
    char *buf;
    size_t cap;
    size_t len;
};

static void sink_init(struct sink *o, char *buf, size_t cap)
{
    *o = (struct sink){ buf, cap, 0 };
    if (cap > 0)
        buf[0] = '\0';
}

static void sink_printf(struct sink *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sink_printf(struct sink *o, const char *fmt, ...)
{
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static const char *or_unknown(const char *s) { return s ? s : "?"; }

/* ---- human table ------------------------------------------------------------ */

/* Umbra's share of all retired instructions in tenths of a percent, rounded
 * to nearest.  Umbra has no floating point; both counts are scaled down
 * together when the products could overflow 64 bits (the ratio survives). */
static unsigned share_permille(uint64_t part, uint64_t other)
{
    while (part > UINT64_MAX / 4096 || other > UINT64_MAX / 4096) {
        part >>= 1;
        other >>= 1;
    }
    uint64_t whole = part + other;
    if (whole == 0)
        return 0;
    return (unsigned)((part * 2000 + whole) / (2 * whole));
}

static void table_title(struct sink *o, const struct stats_run_info *info)
{
    sink_printf(o, "== %s: mode %s, %u cpu%s, ", or_unknown(info->vm_name), or_unknown(info->mode),
                info->cpus, info->cpus == 1 ? "" : "s");
    if (IS_ALIGNED(info->mem, MIB(1)))
        sink_printf(o, "%llu MiB", (unsigned long long)(info->mem >> 20));
    else
        sink_printf(o, "%llu bytes", (unsigned long long)info->mem);
    sink_printf(o, ", status %d (%s) ==\n", info->status, or_unknown(info->end_reason));
}

static void table_counts(struct sink *o, const struct exit_stats *s)
{
    sink_printf(o, "  %-22s %16s %16s\n", "exit cause", "full", "fast");
    for (unsigned c = 0; c < EXIT_CAUSE_COUNT; c++) {
        if (s->full[c] == 0 && s->fast[c] == 0)
            continue;
        sink_printf(o, "  %-22s %16llu %16llu\n", exit_cause_name((enum exit_cause)c),
                    (unsigned long long)s->full[c], (unsigned long long)s->fast[c]);
    }
    sink_printf(o, "  %-22s %16llu %16llu\n", "total", (unsigned long long)stats_total_full(s),
                (unsigned long long)stats_total_fast(s));
}

static void table_instret(struct sink *o, const struct exit_stats *s)
{
    unsigned share = share_permille(s->instret_umbra, s->instret_guest);
    sink_printf(o, "  %-22s %16llu\n", "instret guest", (unsigned long long)s->instret_guest);
    sink_printf(o, "  %-22s %16llu  (%u.%u%% of all)\n", "instret umbra",
                (unsigned long long)s->instret_umbra, share / 10, share % 10);
    sink_printf(o, "  %-22s %16llu\n", "faults injected", (unsigned long long)s->faults_injected);
}

/* The memory-virtualization counters that are not zero (none in hap). */
static void table_mm(struct sink *o, const struct stats_run_info *info, const struct exit_stats *s)
{
    if (info->sptbuf_size >= 0)
        sink_printf(o, "  %-22s %16d\n", "sptbuf size", info->sptbuf_size);
    for (unsigned m = 0; m < MM_COUNTER_COUNT; m++)
        if (s->mm[m])
            sink_printf(o, "  %-22s %16llu\n", mm_counter_name((enum mm_counter)m),
                        (unsigned long long)s->mm[m]);
}

size_t stats_format_table(char *buf, size_t cap, const struct stats_run_info *info,
                          const struct exit_stats *s)
{
    struct sink o;
    sink_init(&o, buf, cap);
    table_title(&o, info);
    table_counts(&o, s);
    table_instret(&o, s);
    table_mm(&o, info, s);
    return o.len;
}

/* ---- CSV ---------------------------------------------------------------------- */

static bool csv_needs_quotes(const char *s)
{
    for (; *s; s++)
        if (*s == ',' || *s == '"' || *s == '\n' || *s == '\r')
            return true;
    return false;
}

/* A text field: as is, or quoted with inner quotes doubled (RFC 4180) so a
 * stray comma in a reason string cannot shift the columns. */
static void csv_text(struct sink *o, const char *s)
{
    if (!s)
        return;
    if (!csv_needs_quotes(s)) {
        sink_printf(o, "%s", s);
        return;
    }
    sink_printf(o, "\"");
    for (; *s; s++) {
        if (*s == '"')
            sink_printf(o, "\"\"");
        else
            sink_printf(o, "%c", *s);
    }
    sink_printf(o, "\"");
}

static void csv_u64(struct sink *o, uint64_t v)
{
    sink_printf(o, ",%llu", (unsigned long long)v);
}

size_t stats_format_csv_header(char *buf, size_t cap)
{
    struct sink o;
    sink_init(&o, buf, cap);
    sink_printf(&o, "vm,mode,cpus,mem,status,end_reason,exits_full,exits_fast,"
                    "instret_guest,instret_umbra,faults_injected");
    for (unsigned c = 0; c < EXIT_CAUSE_COUNT; c++)
        sink_printf(&o, ",full_%s", exit_cause_name((enum exit_cause)c));
    for (unsigned c = 0; c < EXIT_CAUSE_COUNT; c++)
        sink_printf(&o, ",fast_%s", exit_cause_name((enum exit_cause)c));
    sink_printf(&o, ",sptbuf_size");
    for (unsigned m = 0; m < MM_COUNTER_COUNT; m++)
        sink_printf(&o, ",mm_%s", mm_counter_name((enum mm_counter)m));
    return o.len;
}

size_t stats_format_csv_row(char *buf, size_t cap, const struct stats_run_info *info,
                            const struct exit_stats *s)
{
    struct sink o;
    sink_init(&o, buf, cap);
    csv_text(&o, info->vm_name);
    sink_printf(&o, ",");
    csv_text(&o, info->mode);
    sink_printf(&o, ",%u,%llu,%d,", info->cpus, (unsigned long long)info->mem, info->status);
    csv_text(&o, info->end_reason);
    csv_u64(&o, stats_total_full(s));
    csv_u64(&o, stats_total_fast(s));
    csv_u64(&o, s->instret_guest);
    csv_u64(&o, s->instret_umbra);
    csv_u64(&o, s->faults_injected);
    for (unsigned c = 0; c < EXIT_CAUSE_COUNT; c++)
        csv_u64(&o, s->full[c]);
    for (unsigned c = 0; c < EXIT_CAUSE_COUNT; c++)
        csv_u64(&o, s->fast[c]);
    sink_printf(&o, ",%d", info->sptbuf_size);
    for (unsigned m = 0; m < MM_COUNTER_COUNT; m++)
        csv_u64(&o, s->mm[m]);
    return o.len;
}
