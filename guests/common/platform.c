/*
 * platform.c — reads the entry DTB into a struct platform with core/lib/fdt.c:
 * RAM, cpus, timebase, the boot hart's ISA string and the bootargs.
 */
#include "guests/common/platform.h"

#include "core/lib/fdt.h"
#include "core/lib/fmt.h"

/* A larger blob than this is refused: our DTBs are a few KiB. */
#define PLATFORM_DTB_MAX MIB(1)

extern char __image_end[];

uint64_t platform_image_end(void)
{
    return ptr_to_pa(__image_end);
}

static void platform_read_memory(struct platform *p)
{
    int node = fdt_next_node_by_type(p->dtb, -1, "memory");
    if (node < 0 || !fdt_get_reg(p->dtb, node, 0, &p->mem_base, &p->mem_size)) {
        p->mem_base = 0;
        p->mem_size = 0;
    }
}

/* Counts the cpus and picks the boot hart's node (reg == hart id); the
 * first cpu stands in if no node matches. */
static int platform_read_cpus(struct platform *p)
{
    int boot_cpu = -1;
    p->cpu_count = 0;
    for (int node = fdt_next_node_by_type(p->dtb, -1, "cpu"); node >= 0;
         node = fdt_next_node_by_type(p->dtb, node, "cpu")) {
        uint64_t reg, unused;
        p->cpu_count++;
        if (boot_cpu < 0)
            boot_cpu = node;
        if (fdt_get_reg(p->dtb, node, 0, &reg, &unused) && reg == p->hartid)
            boot_cpu = node;
    }
    return boot_cpu;
}

static void platform_read_timebase(struct platform *p, int boot_cpu)
{
    /* The binding allows it in /cpus or in each cpu node. */
    int cpus = fdt_path_offset(p->dtb, "/cpus");
    p->timebase_hz = 0;
    if (cpus >= 0 && fdt_prop_u32(p->dtb, cpus, "timebase-frequency", &p->timebase_hz))
        return;
    if (boot_cpu >= 0)
        fdt_prop_u32(p->dtb, boot_cpu, "timebase-frequency", &p->timebase_hz);
}

bool platform_read(struct platform *p, uint64_t hartid, const void *dtb)
{
    *p = (struct platform){ .hartid = hartid, .dtb = dtb, .bootargs = "", .isa = "" };
    p->dtb_error = fdt_check(dtb, PLATFORM_DTB_MAX);
    if (p->dtb_error != FDT_OK)
        return false;
    p->dtb_size = fdt_total_size(dtb);

    platform_read_memory(p);
    int boot_cpu = platform_read_cpus(p);
    platform_read_timebase(p, boot_cpu);
    if (boot_cpu >= 0) {
        const char *isa = fdt_prop_string(dtb, boot_cpu, "riscv,isa");
        if (isa)
            p->isa = isa;
    }
    int chosen = fdt_path_offset(dtb, "/chosen");
    const char *args = chosen >= 0 ? fdt_prop_string(dtb, chosen, "bootargs") : NULL;
    if (args)
        p->bootargs = args;
    return p->mem_size != 0 && p->timebase_hz != 0;
}

uint64_t platform_ram_end(const struct platform *p)
{
    return p->mem_base + p->mem_size;
}

bool platform_isa_has(const struct platform *p, const char *ext)
{
    /* "rv64imafdch_zicsr_sstc_svadu": multi-letter extensions are the
     * '_'-separated words after the base; match whole words only. */
    size_t want = strlen(ext);
    const char *s = p->isa;
    for (;;) {
        while (*s && *s != '_')
            s++;
        if (!*s)
            return false;
        s++;
        size_t len = 0;
        while (s[len] && s[len] != '_')
            len++;
        if (len == want && strncmp(s, ext, len) == 0)
            return true;
    }
}

bool platform_bootarg(const struct platform *p, const char *key, char *buf, size_t cap)
{
    size_t key_len = strlen(key);
    const char *s = p->bootargs;
    while (*s) {
        while (*s == ' ')
            s++;
        size_t len = 0;
        while (s[len] && s[len] != ' ')
            len++;
        if (len > key_len && s[key_len] == '=' && strncmp(s, key, key_len) == 0) {
            size_t value_len = len - key_len - 1;
            if (value_len + 1 > cap)
                return false;
            memcpy(buf, s + key_len + 1, value_len);
            buf[value_len] = '\0';
            return true;
        }
        s += len;
    }
    return false;
}
