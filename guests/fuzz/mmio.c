/*
 * mmio.c — kind=mmio: random loads and stores of every width at random
 * offsets inside every emulated-device region the guest's DTB lists (the
 * PCI ECAM window of a pci-host-ecam-generic node; a UART at 0x1000_0000
 * if there is a serial@10000000 node) and just outside them, access faults
 * caught.  (address, width, value read, cause) goes into a digest, which
 * is compared between Umbra's modes (natively the machine's devices
 * differ).  Stores to the UART go only to its scratch register, so nothing
 * reaches the console; ECAM stores are any value anywhere.
 */
#include "core/lib/fdt.h"
#include "core/lib/fmt.h"
#include "guests/common/console.h"
#include "guests/fuzz/fuzz.h"

struct fuzz_region {
    const char *name;
    uint64_t base, size;
    bool uart;
};

#define FUZZ_REGIONS 4
#define UART_SCRATCH 7

static unsigned fuzz_find_regions(const void *dtb, struct fuzz_region *out)
{
    unsigned n = 0;
    for (int node = fdt_next_compatible(dtb, -1, "pci-host-ecam-generic"); node >= 0 && n < FUZZ_REGIONS;
         node = fdt_next_compatible(dtb, node, "pci-host-ecam-generic")) {
        uint64_t base, size;
        if (fdt_get_reg(dtb, node, 0, &base, &size) && size)
            out[n++] = (struct fuzz_region){ "ecam", base, size, false };
    }
    for (int node = fdt_next_node(dtb, -1); node >= 0 && n < FUZZ_REGIONS; node = fdt_next_node(dtb, node)) {
        const char *name = fdt_node_name(dtb, node);
        uint64_t base, size;
        if (name && strcmp(name, "serial@10000000") == 0 && fdt_get_reg(dtb, node, 0, &base, &size))
            out[n++] = (struct fuzz_region){ "uart", base, size ? size : 0x100, true };
    }
    return n;
}

static uint64_t fuzz_access(uint64_t addr, unsigned width, bool store, uint64_t value, struct fuzz_trap *t)
{
    uint64_t v = 0x5a5a5a5a5a5a5a5aull;   /* kept if the load faults */
    fuzz_catch_arm(0);
    if (store) {
        switch (width) {
        case 1: __asm__ volatile("sb %0, 0(%1)" ::"r"(value), "r"(addr) : "memory"); break;
        case 2: __asm__ volatile("sh %0, 0(%1)" ::"r"(value), "r"(addr) : "memory"); break;
        case 4: __asm__ volatile("sw %0, 0(%1)" ::"r"(value), "r"(addr) : "memory"); break;
        default: __asm__ volatile("sd %0, 0(%1)" ::"r"(value), "r"(addr) : "memory"); break;
        }
    } else {
        switch (width) {
        case 1: __asm__ volatile("lbu %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory"); break;
        case 2: __asm__ volatile("lhu %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory"); break;
        case 4: __asm__ volatile("lwu %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory"); break;
        default: __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory"); break;
        }
    }
    struct fuzz_trap caught = fuzz_catch_take();
    *t = caught;
    return v;
}

bool fuzz_mmio(const struct fuzz_env *env)
{
    struct fuzz_region regions[FUZZ_REGIONS];
    unsigned count = fuzz_find_regions(env->plat->dtb, regions);
    if (!count) {
        console_line("mmio summary: no emulated-device regions in the DTB");
        return true;
    }
    struct fuzz_rng rng;
    uint64_t digest = FUZZ_DIGEST_INIT;
    unsigned loads = 0, stores = 0, faults = 0, causes[FUZZ_CAUSES] = { 0 };
    fuzz_rng_seed(&rng, env->seed, 3);
    for (unsigned round = 0; round < env->rounds; round++) {
        const struct fuzz_region *reg = &regions[fuzz_below(&rng, count)];
        unsigned width = 1u << fuzz_below(&rng, 4);
        uint64_t where = fuzz_below(&rng, 8), off;
        if (where < 5)              /* bus 0's first devices, where the functions are */
            off = fuzz_below(&rng, reg->size < 0x10000 ? reg->size : 0x10000);
        else if (where == 5)
            off = fuzz_below(&rng, reg->size);
        else if (where == 6)        /* just past the end */
            off = reg->size + fuzz_below(&rng, 64);
        else                        /* just below the start */
            off = (uint64_t)-(int64_t)(1 + fuzz_below(&rng, 64));
        if (fuzz_below(&rng, 8))
            off &= ~(uint64_t)(width - 1);    /* mostly aligned */
        bool store = fuzz_below(&rng, 3) == 0;
        uint64_t value = fuzz_rand(&rng);
        if (reg->uart && store && off < reg->size) {
            off = UART_SCRATCH;               /* never the transmit register */
            width = 1;
        }
        uint64_t addr = reg->base + off;
        struct fuzz_trap t;
        uint64_t v = fuzz_access(addr, width, store, value, &t);
        uint64_t cause = t.count ? t.first_cause : 0;
        loads += !store;
        stores += store;
        faults += t.count != 0;
        causes[cause < FUZZ_CAUSES ? cause : FUZZ_CAUSES - 1]++;
        if (env->verbose)
            console_line("mmio %u %s %s 0x%lx w%u value 0x%lx -> 0x%lx cause %lu", round, reg->name,
                         store ? "store" : "load", (unsigned long)addr, width, (unsigned long)value,
                         (unsigned long)(store ? 0 : v), (unsigned long)cause);
        digest = fuzz_digest(digest, addr ^ (uint64_t)width << 56 ^ (uint64_t)store << 60);
        digest = fuzz_digest(fuzz_digest(digest, store ? 0 : v), cause);
    }
    char line[160];
    int n = fmt_snprintf(line, sizeof(line), "regions:");
    for (unsigned i = 0; i < count; i++)
        n += fmt_snprintf(line + n, sizeof(line) - (size_t)n, " %s 0x%lx+0x%lx", regions[i].name,
                          (unsigned long)regions[i].base, (unsigned long)regions[i].size);
    n += fmt_snprintf(line + n, sizeof(line) - (size_t)n, "; causes:");
    for (unsigned i = 0; i < FUZZ_CAUSES; i++)
        if (causes[i])
            n += fmt_snprintf(line + n, sizeof(line) - (size_t)n, " %u=%u", i, causes[i]);
    console_line("mmio %s", line);
    console_line("mmio summary rounds=%u loads=%u stores=%u faults=%u digest=%016lx", env->rounds, loads,
                 stores, faults, (unsigned long)digest);
    return true;
}
