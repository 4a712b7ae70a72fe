/* test_config.c — config_parse(): a full valid text, defaults, and every
 * error the parser promises, each with the line number it must name. */
#include <string.h>
#include "core/portable/config.h"
#include "core/portable/stats.h"
#include "tests/unit/unit.h"

static struct umbra_config cfg;
static char err[160];

static int parse(const char *text)
{
    return config_parse(text, strlen(text), &cfg, err, sizeof(err));
}

/* The text must be rejected with a message starting with `prefix`
 * (which includes "config line N: "). */
static void expect_error(const char *text, const char *prefix)
{
    int rc = parse(text);
    CHECK_EQ(rc, -1);
    if (strncmp(err, prefix, strlen(prefix)) != 0) {
        unit_failed++;
        fprintf(stderr, "FAIL: got error \"%s\", want prefix \"%s\"\n", err, prefix);
    } else {
        unit_passed++;
    }
    CHECK(strchr(err, '\n') == NULL);   /* one line */
}

#define HEAD "staging=0x8c000000\n"
#define KERNEL "kernel=0x8c001000,0x3a20\n"

static void test_full_example(void)
{
    const char *text = "# umbra config v1\n"
                       "staging=0x8c000000\n"
                       "\n"
                       "trace=mm\n"
                       "vm=vm0\n"
                       "mode=hap\n"
                       "mem=0x4000000\n"
                       "cpus=1\n"
                       "kernel=0x8c001000,0x3a20\n"
                       "append=console=hvc0 workload=ctxsw iters=10\n"
                       "vm=second_VM-2\n"
                       "  \t\n"
                       "# a comment with = in it\n"
                       "mode=hap\n"
                       "mem=134217728\n"
                       "cpus=3\n"
                       "kernel=0x8c005000,0x1000\n"
                       "initrd=0x8c006000,0X2000\n";
    CHECK_EQ(parse(text), 0);
    CHECK_EQ(err[0], 0);
    CHECK_EQ(cfg.staging, 0x8c000000);
    CHECK_EQ(cfg.trace, CONFIG_TRACE_MM);
    CHECK_EQ(cfg.nvms, 2);

    const struct vm_config *a = &cfg.vms[0], *b = &cfg.vms[1];
    CHECK(strcmp(a->name, "vm0") == 0);
    CHECK_EQ(a->mode, MM_MODE_HAP);
    CHECK_EQ(a->mem, MIB(64));
    CHECK_EQ(a->cpus, 1);
    CHECK_EQ(a->kernel.addr, 0x8c001000);
    CHECK_EQ(a->kernel.size, 0x3a20);
    CHECK_EQ(a->initrd.size, 0);
    /* The value runs to the end of the line, '=' and spaces included. */
    CHECK(strcmp(a->append, "console=hvc0 workload=ctxsw iters=10") == 0);

    CHECK(strcmp(b->name, "second_VM-2") == 0);
    CHECK_EQ(b->mode, MM_MODE_HAP);
    CHECK_EQ(b->mem, MIB(128));
    CHECK_EQ(b->cpus, 3);
    CHECK_EQ(b->kernel.addr, 0x8c005000);
    CHECK_EQ(b->initrd.addr, 0x8c006000);
    CHECK_EQ(b->initrd.size, 0x2000);
    CHECK_EQ(b->append[0], 0);
}

static void test_defaults_and_endings(void)
{
    /* No trailing newline, CRLF line ends, defaults for everything optional. */
    const char *text = "staging=0x90000000\r\nvm=a\r\nkernel=0x90001000,16";
    CHECK_EQ(parse(text), 0);
    CHECK_EQ(cfg.nvms, 1);
    CHECK_EQ(cfg.trace, 0);
    CHECK(strcmp(cfg.vms[0].name, "a") == 0);
    CHECK_EQ(cfg.vms[0].mode, MM_MODE_HAP);
    CHECK_EQ(cfg.vms[0].mem, MIB(128));
    CHECK_EQ(cfg.vms[0].cpus, 1);
    CHECK_EQ(cfg.vms[0].kernel.size, 16);

    /* Parsing stops at a NUL even if len says there is more. */
    const char with_nul[] = HEAD "vm=x\n" KERNEL "\0bogus=1\n";
    CHECK_EQ(config_parse(with_nul, sizeof(with_nul), &cfg, err, sizeof(err)), 0);
    /* ...and at len even without a NUL: the cut drops "vm=x" entirely. */
    CHECK_EQ(config_parse(HEAD "vm=x\n" KERNEL, strlen(HEAD), &cfg, err, sizeof(err)), -1);
}

static void test_trace_and_modes(void)
{
    CHECK_EQ(parse(HEAD "trace=mm,mm\ntrace=mm\nvm=v\nmode=tsp\n" KERNEL), 0);
    CHECK_EQ(cfg.trace, CONFIG_TRACE_MM);
    CHECK_EQ(cfg.vms[0].mode, MM_MODE_TSP);
    expect_error(HEAD "trace=mm,io\nvm=v\n" KERNEL, "config line 2: unknown trace flag 'io'");
    expect_error(HEAD "trace=\nvm=v\n" KERNEL, "config line 2: unknown trace flag");
    expect_error(HEAD "vm=v\nmode=HAP\n" KERNEL, "config line 3: unknown mode 'HAP'");

    CHECK(strcmp(mm_mode_name(MM_MODE_HAP), "hap") == 0);
    CHECK(strcmp(mm_mode_name(MM_MODE_TSP), "tsp") == 0);
    CHECK(strcmp(mm_mode_name(MM_MODE_SSP), "ssp") == 0);
}

static void test_structure_errors(void)
{
    expect_error(HEAD "vm=v\n" KERNEL "colour=blue\n", "config line 4: unknown key 'colour'");
    expect_error(HEAD "mode=hap\nvm=v\n" KERNEL, "config line 2: mode= before any vm=");
    expect_error(HEAD "vm=v\n" KERNEL "staging=0x1\n",
                 "config line 4: staging= must come before the first vm=");
    expect_error("vm=v\n" KERNEL, "config line 1: staging= must come before the first vm=");
    expect_error(HEAD "vm=v\njust words\n", "config line 3: expected key=value");
    expect_error("# nothing but a comment\n" HEAD, "config line 2: no VMs");
    expect_error("", "config line 1: no VMs");
    /* Missing kernel is found at the end but blamed on the VM's own line. */
    expect_error(HEAD "vm=v\n" KERNEL "vm=w\nmem=0x400000\nvm=x\n" KERNEL,
                 "config line 4: VM 'w' has no kernel=");
    expect_error(HEAD "vm=v\nkernel=0x8c001000,0\n", "config line 3: kernel size is 0");
}

static void test_number_errors(void)
{
    expect_error(HEAD "vm=v\nmem=12z\n", "config line 3: bad number '12z' for mem");
    expect_error(HEAD "vm=v\nmem=0x\n", "config line 3: bad number");
    expect_error(HEAD "vm=v\nmem=\n", "config line 3: bad number");
    expect_error(HEAD "vm=v\nmem=0x10000000000000000\n", "config line 3: bad number");
    expect_error(HEAD "vm=v\nmem=18446744073709551616\n", "config line 3: bad number");
    expect_error(HEAD "vm=v\ncpus=-1\n", "config line 3: bad number");
    expect_error("staging=0xg\nvm=v\n", "config line 1: bad number");
    expect_error(HEAD "vm=v\nkernel=0x8c001000\n", "config line 3: bad kernel");
    expect_error(HEAD "vm=v\nkernel=0x8c001000,0x10,\n", "config line 3: bad kernel");
    expect_error(HEAD "vm=v\n" KERNEL "initrd=,0x10\n", "config line 4: bad initrd");
    /* The largest 64-bit values still parse. */
    CHECK_EQ(parse("staging=0xffffffffffffffff\nvm=v\nkernel=18446744073709551615,0\n"), -1);
    CHECK(strstr(err, "kernel size is 0") != NULL);
}

static void test_share(void)
{
    CHECK_EQ(parse(HEAD "vm=a\n" KERNEL "share=00:10.0\npci=00:11.0\nshare_mode=rewrite\n"
                   "vm=b\n" KERNEL "share=0:10.0\nshare_mode=rewrite\n"), 0);
    CHECK_EQ(cfg.vms[0].npci, 2);
    CHECK_EQ(cfg.vms[0].share_mask, 1);
    CHECK_EQ(cfg.vms[1].share_mask, 1);
    CHECK_EQ(config_shared_bdf(&cfg.vms[0]), 0x80);
    CHECK_EQ(config_shared_bdf(&cfg.vms[1]), 0x80);
    CHECK_EQ(cfg.vms[1].share_mode, SHARE_REWRITE);
    CHECK_EQ(parse(HEAD "vm=a\n" KERNEL "pci=00:10.0\n"), 0);
    CHECK_EQ(config_shared_bdf(&cfg.vms[0]), -1);
    CHECK_EQ(cfg.vms[0].share_mode, SHARE_SWITCH);
    CHECK(strcmp(share_mode_name(SHARE_REWRITE), "rewrite") == 0);
    CHECK(strcmp(share_mode_name((enum share_mode)7), "?") == 0);
    expect_error(HEAD "vm=a\n" KERNEL "pci=00:10.0\nvm=b\n" KERNEL "share=00:10.0\n",
                 "config line 7: PCI function 00:10.0 is already assigned to VM 'a'");
    expect_error(HEAD "vm=a\n" KERNEL "share=00:10.0\nvm=b\n" KERNEL "pci=00:10.0\n",
                 "config line 7: PCI function 00:10.0 is already shared by VM 'a'");
    expect_error(HEAD "vm=a\n" KERNEL "share=00:10.0\nshare=00:10.0\n",
                 "config line 5: PCI function 00:10.0 is already shared by VM 'a'");
    expect_error(HEAD "vm=a\n" KERNEL "share=00:10.0\nshare=00:11.0\n",
                 "config line 5: a second share= for VM 'a'");
    expect_error(HEAD "vm=a\n" KERNEL "share=00:10.0\nshare_mode=swap\n",
                 "config line 5: unknown share_mode 'swap' (switch or rewrite)");
    expect_error(HEAD "vm=a\n" KERNEL "share=00:10.0\nvm=b\n" KERNEL "share=00:10.0\nshare_mode=rewrite\n",
                 "config line 5: VM 'b' shares 00:10.0 with share_mode=rewrite, VM 'a' with switch");
    expect_error(HEAD "vm=a\n" KERNEL "share=00:10.0\nviommu=shadow\n",
                 "config line 2: VM 'a' has viommu= and share=");
}

static void test_viommu(void)
{
    CHECK_EQ(parse(HEAD "vm=v\n" KERNEL "pci=00:02.0\nviommu=sidecore\nvm=w\n" KERNEL "pci=0:3.0\nviommu=nested\n"), 0);
    CHECK_EQ(cfg.vms[0].viommu, VIOMMU_SIDECORE);
    CHECK_EQ(cfg.vms[1].viommu, VIOMMU_NESTED);
    CHECK_EQ(parse(HEAD "vm=v\n" KERNEL "pci=00:02.0\n"), 0);
    CHECK_EQ(cfg.vms[0].viommu, VIOMMU_OFF);
    CHECK(strcmp(viommu_mode_name(VIOMMU_SHADOW), "shadow") == 0);
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:02.0\nviommu=sidecar\n", "config line 5: unknown viommu 'sidecar'");
    expect_error(HEAD "vm=v\n" KERNEL "viommu=shadow\n", "config line 2: VM 'v' has viommu= but no pci=");
}

static void test_memory_and_pinning(void)
{
    CHECK_EQ(parse(HEAD "vm=v\n" KERNEL), 0);
    CHECK_EQ(cfg.vms[0].mem_backing, MEM_BACKING_EAGER);
    CHECK_EQ(cfg.vms[0].reclaim_ms, 0);
    CHECK_EQ(cfg.vms[0].dma_pinning, DMA_PINNING_STATIC);
    CHECK(!config_ram_paged(&cfg.vms[0]));
    CHECK_EQ(parse(HEAD "vm=v\n" KERNEL "mem_backing=lazy\nreclaim=50\npci=00:02.0\ndma_pinning=coiommu\n"
                   "vm=w\n" KERNEL "reclaim=10\npci=00:03.0\nviommu=shadow\ndma_pinning=viommu\n"), 0);
    CHECK_EQ(cfg.vms[0].mem_backing, MEM_BACKING_LAZY);
    CHECK_EQ(cfg.vms[0].reclaim_ms, 50);
    CHECK_EQ(cfg.vms[0].dma_pinning, DMA_PINNING_COIOMMU);
    CHECK_EQ(cfg.vms[1].mem_backing, MEM_BACKING_EAGER);
    CHECK_EQ(cfg.vms[1].dma_pinning, DMA_PINNING_VIOMMU);
    CHECK(config_ram_paged(&cfg.vms[0]) && config_ram_paged(&cfg.vms[1]));
    CHECK(strcmp(mem_backing_name(MEM_BACKING_LAZY), "lazy") == 0);
    CHECK(strcmp(dma_pinning_name(DMA_PINNING_COIOMMU), "coiommu") == 0);
    CHECK(strcmp(dma_pinning_name((enum dma_pinning)9), "?") == 0);
    expect_error(HEAD "vm=v\n" KERNEL "mem_backing=lazzy\n",
                 "config line 4: unknown mem_backing 'lazzy' (eager or lazy)");
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:02.0\ndma_pinning=all\n",
                 "config line 5: unknown dma_pinning 'all' (static, viommu or coiommu)");
    expect_error(HEAD "vm=v\n" KERNEL "reclaim=-1\n", "config line 4: reclaim must be a period of 0 to 60000 ms");
    expect_error(HEAD "vm=v\n" KERNEL "reclaim=60001\n", "config line 4: reclaim must be a period");
    expect_error(HEAD "vm=v\n" KERNEL "dma_pinning=coiommu\n", "config line 2: VM 'v' has dma_pinning=coiommu but no pci=");
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:02.0\ndma_pinning=viommu\n",
                 "config line 2: VM 'v' has dma_pinning=viommu without viommu=shadow");
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:02.0\nviommu=nested\ndma_pinning=viommu\n",
                 "config line 2: VM 'v' has dma_pinning=viommu without viommu=shadow");
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:02.0\nviommu=shadow\ndma_pinning=coiommu\n",
                 "config line 2: VM 'v' has dma_pinning=coiommu and viommu=");
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:02.0\nviommu=sidecore\nreclaim=5\n",
                 "config line 2: VM 'v' has reclaim= and viommu=sidecore");
    expect_error(HEAD "vm=v\n" KERNEL "share=00:02.0\nmem_backing=lazy\n",
                 "config line 2: VM 'v' has share= and RAM kept page by page");
}

static void test_pci_assignment(void)
{
    CHECK_EQ(parse(HEAD "vm=v\n" KERNEL "pci=00:02.0\npci=0:1f.7\nvm=w\n" KERNEL "pci=ff:03.1\n"), 0);
    CHECK_EQ(cfg.vms[0].npci, 2);
    CHECK_EQ(cfg.vms[0].pci[0], 0x0010);
    CHECK_EQ(cfg.vms[0].pci[1], 0x00ff);
    CHECK_EQ(cfg.vms[1].npci, 1);
    CHECK_EQ(cfg.vms[1].pci[0], 0xff19);
    CHECK_EQ(parse(HEAD "vm=v\n" KERNEL), 0);
    CHECK_EQ(cfg.vms[0].npci, 0);
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:20.0\n", "config line 4: bad PCI address '00:20.0'");
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:02.8\n", "config line 4: bad PCI address");
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:02\n", "config line 4: bad PCI address");
    expect_error(HEAD "vm=v\n" KERNEL "pci=100:02.0\n", "config line 4: bad PCI address");
    expect_error(HEAD "vm=v\n" KERNEL "pci=0g:02.0\n", "config line 4: bad PCI address");
    expect_error(HEAD "vm=v\n" KERNEL "pci=:02.0\n", "config line 4: bad PCI address");
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:02.0\npci=00:02.0\n",
                 "config line 5: PCI function 00:02.0 is already assigned to VM 'v'");
    expect_error(HEAD "vm=v\n" KERNEL "pci=00:02.0\nvm=w\n" KERNEL "pci=0:2.0\n",
                 "config line 7: PCI function 0:2.0 is already assigned to VM 'v'");
    expect_error(HEAD "vm=v\n" KERNEL "pci=0:1.0\npci=0:2.0\npci=0:3.0\npci=0:4.0\npci=0:5.0\n",
                 "config line 8: more than 4 PCI functions for VM 'v'");
    expect_error(HEAD "pci=00:02.0\nvm=v\n" KERNEL, "config line 2: pci= before any vm=");
}

static void test_range_errors(void)
{
    expect_error(HEAD "vm=v\ncpus=0\n", "config line 3: cpus must be 1 to 8, not 0");
    expect_error(HEAD "vm=v\ncpus=9\n", "config line 3: cpus must be 1 to 8, not 9");
    CHECK_EQ(parse(HEAD "vm=v\ncpus=8\n" KERNEL), 0);
    expect_error(HEAD "vm=v\ncpus=5\n" KERNEL "vm=w\ncpus=4\n" KERNEL,
                 "config line 5: more than 8 vCPUs over all VMs");
    expect_error(HEAD "vm=v\nmem=0x300000\n", "config line 3: mem 0x300000 is not");
    expect_error(HEAD "vm=v\nmem=0\n", "config line 3: mem 0x0 is not");
    expect_error(HEAD "vm=v\nmem=0x100000\n", "config line 3: mem 0x100000 is not");
    CHECK_EQ(parse(HEAD "vm=v\nmem=0x200000\nkernel=0x8c001000,0\n"), -1);   /* 2 MiB parses */
    CHECK(strstr(err, "kernel size is 0") != NULL);
    /* Kernel and initrd must fit between the 2 MiB kernel offset and the
     * 2 MiB DTB slot at the top: 2 MiB of room in 6 MiB of RAM. */
    CHECK_EQ(parse(HEAD "vm=v\nmem=0x600000\nkernel=0x8c001000,0x100000\n"
                        "initrd=0x8c101000,0x100000\n"), 0);
    expect_error(HEAD "vm=v\nmem=0x600000\nkernel=0x8c001000,0x100000\n"
                      "initrd=0x8c101000,0x100001\n",
                 "config line 2: VM 'v': kernel (0x100000 bytes) and initrd (0x100001 bytes) do not fit");
    expect_error(HEAD "vm=v\nmem=0x200000\n" KERNEL, "config line 2: VM 'v': kernel");
    expect_error(HEAD "vm=v\nmem=0x400000\n" KERNEL, "config line 2: VM 'v': kernel");
    /* Images must lie in the staging area and must not wrap around. */
    expect_error(HEAD "vm=v\nkernel=0x80200000,0x1000\n", "config line 3: kernel at 0x80200000");
    expect_error(HEAD "vm=v\n" KERNEL "initrd=0xfffffffffffff000,0x2000\n",
                 "config line 4: initrd at 0xfffffffffffff000 size 0x2000 is outside");
}

static void test_shadow_keys(void)
{
    CHECK_EQ(parse(HEAD "vm=v\nmode=ssp\n" KERNEL), 0);
    CHECK_EQ(cfg.vms[0].sptbuf, CONFIG_DEFAULT_SPTBUF);
    CHECK_EQ(cfg.vms[0].shadow_pool, 0);
    CHECK_EQ(parse(HEAD "vm=v\nmode=ssp\nsptbuf=0\nshadow_pool=0x100000\n" KERNEL), 0);
    CHECK_EQ(cfg.vms[0].sptbuf, 0);
    CHECK_EQ(cfg.vms[0].shadow_pool, 0x100000);
    CHECK_EQ(parse(HEAD "vm=v\nsptbuf=64\n" KERNEL), 0);
    expect_error(HEAD "vm=v\nsptbuf=65\n", "config line 3: sptbuf must be 0 to 64, not 65");
    expect_error(HEAD "vm=v\nsptbuf=x\n", "config line 3: bad number 'x' for sptbuf");
    expect_error(HEAD "vm=v\nshadow_pool=0x1000\n", "config line 3: shadow_pool 0x1000 is not");
    expect_error(HEAD "vm=v\nshadow_pool=0x10001\n", "config line 3: shadow_pool 0x10001 is not");
    CHECK_EQ(parse(HEAD "vm=v\nmode=tsp\ncpus=2\n" KERNEL), 0);
    CHECK_EQ(parse(HEAD "vm=v\nmode=ssp\ncpus=8\n" KERNEL), 0);
    expect_error(HEAD "vm=v\nmode=ssp\ncpus=9\n" KERNEL, "config line 4: cpus must be 1 to 8, not 9");
    CHECK_EQ(parse(HEAD "vm=v\nmode=hap\ncpus=2\n" KERNEL), 0);
}

static void test_name_errors(void)
{
    char text[512];
    expect_error(HEAD "vm=\n", "config line 2: invalid VM name ''");
    expect_error(HEAD "vm=bad name\n", "config line 2: invalid VM name 'bad name'");
    expect_error(HEAD "vm=a.b\n", "config line 2: invalid VM name");
    expect_error(HEAD "vm=abcdefghijklmnop\n", "config line 2: invalid VM name");   /* 16 chars */
    CHECK_EQ(parse(HEAD "vm=abcdefghijklmno\n" KERNEL), 0);                       /* 15 chars */
    CHECK(strcmp(cfg.vms[0].name, "abcdefghijklmno") == 0);
    expect_error(HEAD "vm=a\n" KERNEL "vm=b\n" KERNEL "vm=a\n",
                 "config line 6: duplicate VM name 'a' (first on line 2)");

    /* Exactly CONFIG_MAX_VMS VMs is fine, one more is not. */
    size_t n = strlen(strcpy(text, HEAD));
    for (int i = 0; i < CONFIG_MAX_VMS; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "vm=v%d\n" KERNEL, i);
    CHECK(n < sizeof(text) - 16);
    CHECK_EQ(parse(text), 0);
    CHECK_EQ(cfg.nvms, CONFIG_MAX_VMS);
    strcat(text, "vm=v9\n");
    expect_error(text, "config line 18: more than 8 VMs");
}

static void test_append(void)
{
    static char text[1200];
    static char value[CONFIG_APPEND_MAX + 1];
    memset(value, 'x', CONFIG_APPEND_MAX - 1);   /* 1023 chars: the most allowed */
    value[CONFIG_APPEND_MAX - 1] = '\0';
    snprintf(text, sizeof(text), HEAD "vm=v\n" KERNEL "append=%s\n", value);
    CHECK_EQ(parse(text), 0);
    CHECK_EQ(strlen(cfg.vms[0].append), CONFIG_APPEND_MAX - 1);

    strcat(value, "y");                          /* 1024 chars: one too many */
    snprintf(text, sizeof(text), HEAD "vm=v\n" KERNEL "append=%s\n", value);
    expect_error(text, "config line 4: append is 1024 chars, at most 1023 allowed");

    CHECK_EQ(parse(HEAD "vm=v\n" KERNEL "append=\n"), 0);
    CHECK_EQ(cfg.vms[0].append[0], 0);
}

static void test_error_buffer(void)
{
    /* A short buffer gets a truncated, terminated message; none is fine too. */
    char small[12];
    memset(small, 'Z', sizeof(small));
    const char *bad = HEAD "vm=v\ncolour=blue\n";
    CHECK_EQ(config_parse(bad, strlen(bad), &cfg, small, sizeof(small)), -1);
    CHECK(strcmp(small, "config line") == 0);
    CHECK_EQ(config_parse(bad, strlen(bad), &cfg, NULL, 0), -1);
    /* Long bad values are cut in the message, which stays one line. */
    expect_error(HEAD "vm=v\nmode=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\n",
                 "config line 3: unknown mode 'abcdefghijklmnopqrstuvwxyzab...'");
}

static void test_monitor_and_ptdump(void)
{
    CHECK_EQ(parse(HEAD "vm=v\n" KERNEL), 0);
    CHECK(!cfg.monitor);
    CHECK_EQ(cfg.nptdumps, 0);
    CHECK_EQ(parse(HEAD "monitor=1\nptdump=end\nptdump=sfence_va_asid:100\nvm=v\n" KERNEL), 0);
    CHECK(cfg.monitor);
    CHECK_EQ(cfg.nptdumps, 2);
    CHECK_EQ(cfg.ptdumps[0].cause, CONFIG_PTDUMP_AT_END);
    CHECK_EQ(cfg.ptdumps[1].cause, EXIT_SFENCE_VA_ASID);
    CHECK_EQ(cfg.ptdumps[1].nth, 100);
    CHECK_EQ(parse(HEAD "monitor=0\nvm=v\n" KERNEL), 0);
    CHECK(!cfg.monitor);
    expect_error(HEAD "monitor=yes\nvm=v\n" KERNEL, "config line 2: monitor=yes: want 0 or 1");
    expect_error(HEAD "ptdump=sfence_vma:3\nvm=v\n" KERNEL, "config line 2: ptdump=sfence_vma:3: unknown exit cause");
    expect_error(HEAD "ptdump=wp_fault:0\nvm=v\n" KERNEL, "config line 2: ptdump=wp_fault:0: want end or CAUSE:N");
    expect_error(HEAD "ptdump=wp_fault\nvm=v\n" KERNEL, "config line 2: ptdump=wp_fault: want end or CAUSE:N");
    expect_error(HEAD "ptdump=end\nptdump=end\nptdump=end\nptdump=end\nptdump=end\nvm=v\n" KERNEL,
                 "config line 6: more than 4 ptdump= triggers");
    expect_error(HEAD "vm=v\nmonitor=1\n" KERNEL, "config line 3: monitor= must come before the first vm=");
}

void unit_main(void)
{
    test_memory_and_pinning();
    test_monitor_and_ptdump();
    test_full_example();
    test_defaults_and_endings();
    test_trace_and_modes();
    test_structure_errors();
    test_number_errors();
    test_range_errors();
    test_viommu();
    test_share();
    test_pci_assignment();
    test_name_errors();
    test_shadow_keys();
    test_append();
    test_error_buffer();
}
