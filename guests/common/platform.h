/*
 * platform.h — what a built-in guest learns about its machine at boot: the
 * entry arguments and a summary of the DTB.  Only facts that are the same
 * natively and under Umbra are read (memory, cpus, /chosen), because the
 * guests' output must be identical in both worlds.
 */
#ifndef UMBRA_GUESTS_PLATFORM_H
#define UMBRA_GUESTS_PLATFORM_H

#include "core/lib/base.h"

/* Guest RAM starts here in both worlds; the image is loaded 2 MiB in. */
#define GUEST_RAM_BASE 0x80000000ull

struct platform {
    uint64_t hartid;            /* a0 at entry */
    const void *dtb;            /* a1 at entry */
    size_t dtb_size;            /* the DTB's totalsize (0 if unusable) */
    int dtb_error;              /* fdt_check() result */
    uint64_t mem_base;          /* first /memory reg entry */
    uint64_t mem_size;
    unsigned cpu_count;         /* nodes with device_type "cpu" */
    uint32_t timebase_hz;       /* timebase-frequency (0 if absent) */
    const char *bootargs;       /* /chosen bootargs, "" if absent */
    const char *isa;            /* riscv,isa of the boot hart, "" if absent */
};

/* Every guest defines this; start.S calls it with the entry arguments. */
void guest_main(uint64_t hartid, const void *dtb);

/* Fill *p from the entry arguments.  False if the DTB is unusable or lacks
 * memory or a timebase; the fields that could be read are still filled. */
bool platform_read(struct platform *p, uint64_t hartid, const void *dtb);
uint64_t platform_ram_end(const struct platform *p);
/* True if riscv,isa names the multi-letter extension `ext` ("sstc"). */
bool platform_isa_has(const struct platform *p, const char *ext);
/* Value of `key=` in bootargs copied into buf (NUL-terminated); false if
 * the word is absent or does not fit. */
bool platform_bootarg(const struct platform *p, const char *key, char *buf, size_t cap);

/* First byte after the loaded image (linker/guest.ld's __image_end). */
uint64_t platform_image_end(void);

#endif
