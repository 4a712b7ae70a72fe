/* test_stats.c — exit-cause names, merge/totals, and the exact text of the
 * human table and the CSV header and row (the benchmark harness parses the
 * CSV, so its columns are checked one by one). */
#include <stdlib.h>
#include <string.h>
#include "core/portable/stats.h"
#include "tests/unit/unit.h"

static const struct stats_run_info info = {
    .vm_name = "vm0", .mode = "ssp", .cpus = 2, .mem = MIB(64), .status = 0, .end_reason = "shutdown",
    .sptbuf_size = 16,
};

static void test_names(void)
{
    CHECK(strcmp(exit_cause_name(EXIT_SATP_WRITE_HIT), "satp_write_hit") == 0);
    CHECK(strcmp(exit_cause_name(EXIT_SFENCE_VA_ASID), "sfence_va_asid") == 0);
    CHECK(strcmp(exit_cause_name(EXIT_GUEST_FAULT_INJECTED), "guest_fault_injected") == 0);
    CHECK(strcmp(exit_cause_name(EXIT_SBI_BASE), "sbi_base") == 0);
    CHECK(strcmp(exit_cause_name(EXIT_SBI_OTHER), "sbi_other") == 0);
    CHECK(strcmp(exit_cause_name(EXIT_OTHER), "other") == 0);
    CHECK(strcmp(exit_cause_name(EXIT_CAUSE_COUNT), "?") == 0);
    /* Names are distinct, lower snake case; the sfence causes are exactly
     * the ones named sfence_*. */
    for (int a = 0; a < EXIT_CAUSE_COUNT; a++) {
        const char *na = exit_cause_name((enum exit_cause)a);
        CHECK_EQ(exit_cause_is_sfence((enum exit_cause)a), strncmp(na, "sfence_", 7) == 0);
        for (const char *p = na; *p; p++)
            CHECK((*p >= 'a' && *p <= 'z') || *p == '_');
        for (int b = a + 1; b < EXIT_CAUSE_COUNT; b++)
            CHECK(strcmp(na, exit_cause_name((enum exit_cause)b)) != 0);
    }
}

static void test_merge_and_totals(void)
{
    struct exit_stats a = { 0 }, b = { 0 };
    stats_count_full(&a, EXIT_SBI_TIME);
    stats_count_full(&a, EXIT_SBI_TIME);
    stats_count_fast(&a, EXIT_SATP_WRITE_HIT);
    a.instret_guest = 100;
    b.full[EXIT_SBI_TIME] = 5;
    b.full[EXIT_OTHER] = 7;
    b.fast[EXIT_SATP_WRITE_HIT] = 1;
    b.instret_guest = 1;
    b.instret_umbra = 9;
    b.faults_injected = 3;
    stats_merge(&a, &b);
    CHECK_EQ(a.full[EXIT_SBI_TIME], 7);
    CHECK_EQ(a.full[EXIT_OTHER], 7);
    CHECK_EQ(a.fast[EXIT_SATP_WRITE_HIT], 2);
    CHECK_EQ(a.instret_guest, 101);
    CHECK_EQ(a.instret_umbra, 9);
    CHECK_EQ(a.faults_injected, 3);
    CHECK_EQ(stats_total_full(&a), 14);
    CHECK_EQ(stats_total_fast(&a), 2);
    CHECK_EQ(b.full[EXIT_SBI_TIME], 5);   /* src untouched */
}

static void test_table(void)
{
    struct exit_stats s = { 0 };
    s.full[EXIT_SATP_WRITE_MISS] = 12;
    s.fast[EXIT_SATP_WRITE_HIT] = 340;
    s.full[EXIT_SBI_TIME] = 5;
    s.instret_guest = 9876;
    s.instret_umbra = 124;      /* 1.24% -> rounds to 1.2 */
    s.faults_injected = 2;
    s.mm[MM_SPTBUF_HITS] = 340;
    s.mm[MM_SPTBUF_MISSES] = 12;
    const char *want =
        "== vm0: mode ssp, 2 cpus, 64 MiB, status 0 (shutdown) ==\n"
        "  exit cause                         full             fast\n"
        "  satp_write_hit                        0              340\n"
        "  satp_write_miss                      12                0\n"
        "  sbi_time                              5                0\n"
        "  total                                17              340\n"
        "  instret guest                      9876\n"
        "  instret umbra                       124  (1.2% of all)\n"
        "  faults injected                       2\n"
        "  sptbuf size                          16\n"
        "  sptbuf_hits                         340\n"
        "  sptbuf_misses                        12\n";
    char buf[1024];
    size_t n = stats_format_table(buf, sizeof(buf), &info, &s);
    CHECK_EQ(n, strlen(want));
    CHECK(strcmp(buf, want) == 0);
    if (strcmp(buf, want) != 0)
        fprintf(stderr, "got:\n%s", buf);

    /* Truncated output is terminated and the return value still tells the
     * full size, so a caller can retry with a bigger buffer. */
    char small[40];
    CHECK_EQ(stats_format_table(small, sizeof(small), &info, &s), strlen(want));
    CHECK_EQ(strlen(small), sizeof(small) - 1);
    CHECK(strncmp(small, want, sizeof(small) - 1) == 0);
    CHECK_EQ(stats_format_table(NULL, 0, &info, &s), strlen(want));
}

/* The share column: rounding, the all-Umbra and no-data edges, and counts
 * large enough that a naive `umbra * 1000` would overflow. */
static void check_share(uint64_t guest, uint64_t umbra, const char *want)
{
    struct exit_stats s = { 0 };
    s.instret_guest = guest;
    s.instret_umbra = umbra;
    char buf[1024];
    stats_format_table(buf, sizeof(buf), &info, &s);
    char needle[32];
    snprintf(needle, sizeof(needle), "(%s of all)", want);
    CHECK(strstr(buf, needle) != NULL);
    if (!strstr(buf, needle))
        fprintf(stderr, "want %s in:\n%s", needle, buf);
}

static void test_share(void)
{
    check_share(0, 0, "0.0%");
    check_share(0, 5, "100.0%");
    check_share(999, 1, "0.1%");
    check_share(1999, 1, "0.1%");     /* 0.05% rounds up */
    check_share(2001, 1, "0.0%");     /* 0.04998% rounds down */
    check_share(2, 1, "33.3%");
    check_share(1, 2, "66.7%");
    check_share(UINT64_MAX / 2, UINT64_MAX / 2, "50.0%");
    check_share(UINT64_MAX - UINT64_MAX / 4, UINT64_MAX / 4, "25.0%");
}

static void test_table_odd_info(void)
{
    struct stats_run_info odd = { .vm_name = NULL, .mode = "hap", .cpus = 1, .mem = 3 * MIB(1) + 5,
                                  .status = -3, .end_reason = NULL, .sptbuf_size = -1 };
    struct exit_stats s = { 0 };
    char buf[1024];
    stats_format_table(buf, sizeof(buf), &odd, &s);
    const char *title = "== ?: mode hap, 1 cpu, 3145733 bytes, status -3 (?) ==\n";
    CHECK(strncmp(buf, title, strlen(title)) == 0);
    /* No non-zero cause: straight from the column header to the totals. */
    CHECK(strstr(buf, "fast\n  total ") != NULL);
}

/* Split a CSV line (no quoted fields) into at most `max` fields in place. */
static int csv_split(char *line, char **fields, int max)
{
    int n = 0;
    for (char *p = line; n < max;) {
        fields[n++] = p;
        p = strchr(p, ',');
        if (!p)
            break;
        *p++ = '\0';
    }
    return n;
}

#define NCOLS (11 + 2 * EXIT_CAUSE_COUNT + 1 + MM_COUNTER_COUNT)

static void test_csv(void)
{
    static char header[4096], row[4096];
    char *h[NCOLS + 1], *r[NCOLS + 1];
    struct exit_stats s = { 0 };
    s.full[EXIT_SATP_READ] = 4;
    s.full[EXIT_OTHER] = 6;
    s.fast[EXIT_SATP_WRITE_HIT] = 77;
    s.instret_guest = 123456789012ull;
    s.instret_umbra = 42;
    s.faults_injected = 1;
    for (int m = 0; m < MM_COUNTER_COUNT; m++)
        s.mm[m] = 1000 + (uint64_t)m;

    size_t hn = stats_format_csv_header(header, sizeof(header));
    size_t rn = stats_format_csv_row(row, sizeof(row), &info, &s);
    CHECK_EQ(hn, strlen(header));
    CHECK_EQ(rn, strlen(row));
    CHECK(strchr(header, '\n') == NULL);
    CHECK(strchr(row, '\n') == NULL);
    const char *fixed = "vm,mode,cpus,mem,status,end_reason,exits_full,exits_fast,"
                        "instret_guest,instret_umbra,faults_injected,full_satp_write_hit,";
    CHECK(strncmp(header, fixed, strlen(fixed)) == 0);
    const char *row_start = "vm0,ssp,2,67108864,0,shutdown,10,77,123456789012,42,1,0,0,4,";
    CHECK(strncmp(row, row_start, strlen(row_start)) == 0);

    CHECK_EQ(csv_split(header, h, NCOLS + 1), NCOLS);
    CHECK_EQ(csv_split(row, r, NCOLS + 1), NCOLS);
    CHECK(strcmp(h[11], "full_satp_write_hit") == 0);
    CHECK(strcmp(h[11 + EXIT_CAUSE_COUNT - 5], "full_sbi_dbtr") == 0);
    CHECK(strcmp(h[11 + EXIT_CAUSE_COUNT - 4], "full_viommu_mmio") == 0);
    CHECK(strcmp(h[11 + EXIT_CAUSE_COUNT - 1], "full_coiommu_mmio") == 0);
    CHECK(strcmp(h[11 + EXIT_CAUSE_COUNT], "fast_satp_write_hit") == 0);
    CHECK(strcmp(h[11 + 2 * EXIT_CAUSE_COUNT - 1], "fast_coiommu_mmio") == 0);
    CHECK(strcmp(h[11 + 2 * EXIT_CAUSE_COUNT], "sptbuf_size") == 0);
    CHECK(strcmp(h[NCOLS - 53], "mm_remote_flushes") == 0);
    CHECK(strcmp(h[NCOLS - 52], "mm_iommu_commands") == 0);
    CHECK(strcmp(h[NCOLS - 50], "mm_bar_maps") == 0);
    CHECK(strcmp(h[NCOLS - 49], "mm_frame_pool_start") == 0);
    CHECK(strcmp(h[NCOLS - 46], "mm_shadow_pool_end") == 0);
    CHECK(strcmp(h[NCOLS - 45], "mm_viommu_commands") == 0);
    CHECK(strcmp(h[NCOLS - 36], "mm_viommu_host_commands") == 0);
    CHECK(strcmp(h[NCOLS - 33], "mm_viommu_sidecore_work_instret") == 0);
    CHECK(strcmp(h[NCOLS - 32], "mm_viommu_sidecore_idle_instret") == 0);
    CHECK(strcmp(h[NCOLS - 31], "mm_share_transfers") == 0);
    CHECK(strcmp(h[NCOLS - 25], "mm_share_restores") == 0);
    CHECK(strcmp(h[NCOLS - 22], "mm_mem_backed_peak") == 0);
    CHECK(strcmp(h[NCOLS - 23], "mm_share_rewrite_instret") == 0);
    CHECK(strcmp(h[NCOLS - 7], "mm_coiommu_second_chances") == 0);
    CHECK(strcmp(h[NCOLS - 5], "mm_resync_emptied") == 0);
    CHECK(strcmp(h[NCOLS - 2], "mm_catchups_emptied") == 0);
    CHECK(strcmp(h[NCOLS - 1], "mm_faults_quick") == 0);
    CHECK(strcmp(r[11 + 2 * EXIT_CAUSE_COUNT], "16") == 0);
    /* Every per-cause and mm column holds the matching counter. */
    for (int c = 0; c < EXIT_CAUSE_COUNT; c++) {
        CHECK_EQ(strtoull(r[11 + c], NULL, 10), s.full[c]);
        CHECK_EQ(strtoull(r[11 + EXIT_CAUSE_COUNT + c], NULL, 10), s.fast[c]);
    }
    for (int m = 0; m < MM_COUNTER_COUNT; m++) {
        char name[40];
        snprintf(name, sizeof(name), "mm_%s", mm_counter_name((enum mm_counter)m));
        CHECK(strcmp(h[12 + 2 * EXIT_CAUSE_COUNT + m], name) == 0);
        CHECK_EQ(strtoull(r[12 + 2 * EXIT_CAUSE_COUNT + m], NULL, 10), s.mm[m]);
    }
}

static void test_csv_quoting(void)
{
    struct stats_run_info odd = info;
    odd.status = -1;
    odd.end_reason = "panic: \"bad\", stop";
    odd.vm_name = NULL;
    struct exit_stats s = { 0 };
    char row[4096];
    stats_format_csv_row(row, sizeof(row), &odd, &s);
    const char *want = ",ssp,2,67108864,-1,\"panic: \"\"bad\"\", stop\",0,0,";
    CHECK(strncmp(row, want, strlen(want)) == 0);

    /* Truncation behaves like snprintf. */
    char small[8];
    size_t full = stats_format_csv_row(NULL, 0, &info, &s);
    CHECK_EQ(stats_format_csv_row(small, sizeof(small), &info, &s), full);
    CHECK(strcmp(small, "vm0,ssp") == 0);
    size_t want_len = strlen("vm,mode,cpus,mem,status,end_reason,exits_full,exits_fast,"
                             "instret_guest,instret_umbra,faults_injected");
    for (int c = 0; c < EXIT_CAUSE_COUNT; c++)
        want_len += 2 * (strlen(",full_") + strlen(exit_cause_name((enum exit_cause)c)));
    want_len += strlen(",sptbuf_size");
    for (int m = 0; m < MM_COUNTER_COUNT; m++)
        want_len += strlen(",mm_") + strlen(mm_counter_name((enum mm_counter)m));
    CHECK_EQ(stats_format_csv_header(small, sizeof(small)), want_len);
    CHECK(strcmp(small, "vm,mode") == 0);
}

void unit_main(void)
{
    test_names();
    test_merge_and_totals();
    test_table();
    test_share();
    test_table_odd_info();
    test_csv();
    test_csv_quoting();
}
