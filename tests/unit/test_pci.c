/* test_pci.c — PCI enumeration, BAR sizing and assignment, and the virtual
 * config space, against a model of bus 0: a host bridge, an edu-like
 * function (1 MiB BAR0, MSI), a function with I/O, sub-page, 64-bit
 * prefetchable and 64-bit BARs and four capabilities, a multifunction
 * device with a hole at function 2, a single-function device that also
 * answers at function 1, a bridge, and a function with a malformed BAR and a
 * looping capability list.  Expected sizes and addresses are worked out by
 * hand in the comments.  Ends with thousands of random VM accesses. */
#include <stdlib.h>
#include <string.h>
#include "iommu/pci/vfunc.h"
#include "tests/unit/unit.h"

/* ---- The device model -------------------------------------------------- */

struct fake_fn {
    bool present;
    uint8_t cfg[256];
    uint8_t wmask[256];  /* bits a write stores */
    uint8_t w1c[256];    /* bits a written 1 clears */
};

static struct fake_fn fake[PCI_MAX_DEVS][PCI_MAX_FNS];

struct fake_stats {
    unsigned writes;
    unsigned bad_accesses;         /* misaligned or beyond 4 KiB */
    unsigned probes_decoding;      /* all-ones BAR writes with decode on */
    unsigned writes_elsewhere;     /* writes outside command and BARs */
};
static struct fake_stats stats;

static struct fake_fn *fake_at(uint16_t bdf)
{
    if (pci_bdf_bus(bdf) != 0)
        return NULL;
    struct fake_fn *fn = &fake[pci_bdf_dev(bdf)][pci_bdf_fn(bdf)];
    return fn->present ? fn : NULL;
}

static uint32_t get32(const uint8_t *p, unsigned off)
{
    return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
           (uint32_t)p[off + 3] << 24;
}

static void put32(uint8_t *p, unsigned off, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *p, unsigned off, uint16_t v)
{
    p[off] = (uint8_t)v;
    p[off + 1] = (uint8_t)(v >> 8);
}

static uint32_t fake_read32(void *ctx, uint16_t bdf, unsigned reg)
{
    (void)ctx;
    if ((reg & 3) || reg >= PCI_CFG_SIZE)
        stats.bad_accesses++;
    struct fake_fn *fn = fake_at(bdf);
    if (!fn)
        return 0xffffffffu;
    if (reg == 0x100)
        return 0x00010001;  /* an AER extended capability, never shown to a VM */
    return reg < 256 ? get32(fn->cfg, reg & 0xfc) : 0;
}

static void fake_write32(void *ctx, uint16_t bdf, unsigned reg, uint32_t val)
{
    (void)ctx;
    stats.writes++;
    if ((reg & 3) || reg >= PCI_CFG_SIZE)
        stats.bad_accesses++;
    struct fake_fn *fn = fake_at(bdf);
    if (!fn || reg >= 256)
        return;
    bool bar = reg >= PCI_BAR0 && reg < PCI_BAR0 + 4 * PCI_MAX_BARS;
    if (bar && val == 0xffffffffu && (fn->cfg[PCI_COMMAND] & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)))
        stats.probes_decoding++;
    if (!bar && reg != PCI_COMMAND)
        stats.writes_elsewhere++;
    for (unsigned i = 0; i < 4; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i));
        uint8_t *c = &fn->cfg[reg + i];
        *c = (uint8_t)((*c & ~fn->wmask[reg + i]) | (b & fn->wmask[reg + i]));
        *c &= (uint8_t)~(b & fn->w1c[reg + i]);
    }
}

static const struct pci_cfg_ops fake_ops = {fake_read32, fake_write32, NULL};

/* A present function with the writable fields every header has. */
static struct fake_fn *fn_add(unsigned dev, unsigned fn, uint16_t vendor, uint16_t device,
                              uint32_t class_code, uint8_t rev, uint8_t header_type)
{
    struct fake_fn *f = &fake[dev][fn];
    f->present = true;
    put32(f->cfg, PCI_VENDOR_ID, (uint32_t)device << 16 | vendor);
    put32(f->cfg, PCI_CLASS_REVISION, class_code << 8 | rev);
    f->cfg[PCI_HEADER_TYPE] = header_type;
    put16(f->wmask, PCI_COMMAND, 0x0547);
    put16(f->w1c, PCI_STATUS, 0xf900);
    f->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    f->wmask[PCI_LATENCY_TIMER] = 0xff;
    f->wmask[PCI_INTERRUPT_LINE] = 0xff;
    put32(f->cfg, PCI_SUBSYSTEM_VENDOR_ID, 0x11001af4);
    return f;
}

/* `addr_mask` = the BAR's writable address bits (what the hardware decodes). */
static void fn_bar(struct fake_fn *f, unsigned i, uint32_t type_bits, uint32_t addr_mask)
{
    put32(f->cfg, PCI_BAR0 + 4 * i, type_bits);
    put32(f->wmask, PCI_BAR0 + 4 * i, addr_mask);
}

static void fn_bar32(struct fake_fn *f, unsigned i, uint32_t size, uint32_t type_bits)
{
    uint32_t low = (type_bits & PCI_BAR_SPACE_IO) ? 0x3u : 0xfu;
    fn_bar(f, i, type_bits, ~(size - 1) & ~low);
}

static void fn_bar64(struct fake_fn *f, unsigned i, uint64_t size, bool prefetch)
{
    uint64_t mask = ~(size - 1);
    fn_bar(f, i, PCI_BAR_MEM_TYPE_64 | (prefetch ? PCI_BAR_MEM_PREFETCH : 0),
           (uint32_t)mask & ~0xfu);
    fn_bar(f, i + 1, 0, (uint32_t)(mask >> 32));
}

static void fn_cap(struct fake_fn *f, unsigned off, uint8_t id, uint8_t next, uint16_t word2)
{
    if (!(f->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST)) {
        f->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
        f->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
    }
    f->cfg[off] = id;
    f->cfg[off + 1] = next;
    put16(f->cfg, off + 2, word2);
}

#define BDF(d, f) pci_bdf(0, (d), (f))

static void fake_build(void)
{
    memset(fake, 0, sizeof(fake));
    memset(&stats, 0, sizeof(stats));

    fn_add(0, 0, 0x1b36, 0x0008, 0x060000, 0, 0x00);           /* host bridge */

    /* edu: class 0x00ff00, rev 0x10, pin A, BAR0 32-bit 1 MiB, 64-bit MSI at
     * 0x40 (control bit 7).  Firmware left BAR0 at 0xfeb00000. */
    struct fake_fn *edu = fn_add(1, 0, 0x1234, 0x11e8, 0x00ff00, 0x10, 0x00);
    edu->cfg[PCI_INTERRUPT_PIN] = 1;
    fn_bar32(edu, 0, 0x100000, 0);
    put32(edu->cfg, PCI_BAR0, 0xfeb00000);
    fn_cap(edu, 0x40, PCI_CAP_ID_MSI, 0, 0x0080);
    put16(edu->cfg, 0x4c, 0xabcd);  /* MSI data: the cap's last bytes */
    put16(edu->cfg, 0x4e, 0x5a5a);  /* past the 14-byte cap: never shown */

    /* BAR0 I/O 32 bytes decoding 16 address bits; BAR1 32-bit 256 bytes;
     * BAR2/3 64-bit prefetchable 8 GiB; BAR4/5 64-bit 16 KiB.  Caps: PM 0x40
     * -> vendor 0x50 (16 bytes) -> MSI-X 0x60 -> vendor 0x70 (20 bytes).
     * Firmware left decode on and a master-abort error bit in status. */
    struct fake_fn *multi = fn_add(2, 0, 0x1b36, 0x00aa, 0x010000, 1, 0x00);
    multi->cfg[PCI_INTERRUPT_PIN] = 2;
    fn_bar(multi, 0, PCI_BAR_SPACE_IO, 0x0000ffe0);
    fn_bar32(multi, 1, 0x100, 0);
    fn_bar64(multi, 2, 0x200000000ull, true);
    fn_bar64(multi, 4, 0x4000, false);
    fn_cap(multi, 0x40, PCI_CAP_ID_PM, 0x50, 0x0003);
    fn_cap(multi, 0x50, PCI_CAP_ID_VNDR, 0x60, 0x0110);
    fn_cap(multi, 0x60, PCI_CAP_ID_MSIX, 0x70, 0x0003);
    fn_cap(multi, 0x70, PCI_CAP_ID_VNDR, 0x00, 0x0214);
    for (unsigned off = 0x54; off < 0x60; off++)
        multi->cfg[off] = (uint8_t)off;
    for (unsigned off = 0x74; off < 0x90; off++)
        multi->cfg[off] = (uint8_t)off;
    put16(multi->cfg, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    multi->cfg[PCI_STATUS + 1] |= 0x20;

    /* Multifunction: fn0 BAR0 4 KiB; fn1 BAR0 I/O 16 bytes (32 address
     * bits); fn2 absent; fn3 BAR1 32-bit prefetchable 8 KiB, no BAR0. */
    fn_bar32(fn_add(3, 0, 0x8086, 0x1000, 0x020000, 0, 0x80), 0, 0x1000, 0);
    fn_bar32(fn_add(3, 1, 0x8086, 0x1001, 0x020000, 0, 0x00), 0, 0x10, PCI_BAR_SPACE_IO);
    fn_bar32(fn_add(3, 3, 0x8086, 0x1003, 0x020000, 0, 0x00), 1, 0x2000, PCI_BAR_MEM_PREFETCH);

    /* Single function that also answers at function 1 (must not be seen):
     * BAR5 32-bit 64 KiB. */
    fn_bar32(fn_add(4, 0, 0x1af4, 0x1041, 0x018000, 0, 0x00), 5, 0x10000, 0);
    fn_bar32(fn_add(4, 1, 0x1af4, 0x1041, 0x018000, 0, 0x00), 0, 0x1000, 0);

    /* PCI-PCI bridge: two BAR registers, BAR0 4 KiB. */
    fn_bar32(fn_add(5, 0, 0x1b36, 0x0001, 0x060400, 0, 0x01), 0, 0x1000, 0);

    /* A 64-bit BAR starting in BAR5 (malformed) and a capability whose
     * next pointer is itself. */
    struct fake_fn *odd = fn_add(6, 0, 0x1b36, 0x00bb, 0xff0000, 0, 0x00);
    fn_bar(odd, 5, PCI_BAR_MEM_TYPE_64, 0xfffff000);
    fn_cap(odd, 0x40, PCI_CAP_ID_VNDR, 0x40, 0x0008);
}

enum { F_HOST, F_EDU, F_MULTI, F_MF0, F_MF1, F_MF3, F_SINGLE, F_BRIDGE, F_ODD, F_COUNT };

static struct pci_func funcs[16];
static struct pci_table table;

static void enumerate(void)
{
    fake_build();
    table = (struct pci_table){funcs, ARRAY_SIZE(funcs), 0};
    CHECK_EQ(pci_enumerate(&fake_ops, 0, &table), PCI_OK);
}

/* ---- Addresses --------------------------------------------------------- */

static void test_addresses(void)
{
    CHECK_EQ(pci_bdf(0, 1, 0), 0x0008);
    CHECK_EQ(pci_bdf(0x12, 31, 7), 0x12ff);
    CHECK_EQ(pci_bdf_bus(0x12ff), 0x12);
    CHECK_EQ(pci_bdf_dev(0x12ff), 31);
    CHECK_EQ(pci_bdf_fn(0x12ff), 7);
    CHECK_EQ(pci_ecam_offset(0, 1, 0, 0x10), 0x8010);
    CHECK_EQ(pci_ecam_offset(1, 0, 0, 0), 0x100000);
    CHECK_EQ(pci_ecam_offset(255, 31, 7, 0xffc), 0xffffffc);
    CHECK_EQ(pci_ecam_offset(0, 3, 2, 0x3c), 0x1a03c);
    CHECK_EQ(pci_ecam_offset_bdf(pci_bdf(0, 3, 2), 0x3c), 0x1a03c);
    /* The whole bus range fits QEMU virt's 256 MiB ECAM. */
    CHECK(pci_ecam_offset(255, 31, 7, 0xfff) < MIB(256));
}

/* ---- Enumeration and sizing -------------------------------------------- */

static void check_bar(const struct pci_func *f, unsigned i, uint64_t size, uint8_t flags)
{
    CHECK_EQ(f->bar[i].size, size);
    CHECK_EQ(f->bar[i].flags, flags);
}

static void test_enumerate(void)
{
    enumerate();
    CHECK_EQ(table.count, F_COUNT);
    const uint16_t bdfs[F_COUNT] = {BDF(0, 0), BDF(1, 0), BDF(2, 0), BDF(3, 0), BDF(3, 1),
                                    BDF(3, 3), BDF(4, 0), BDF(5, 0), BDF(6, 0)};
    for (unsigned i = 0; i < F_COUNT && i < table.count; i++)
        CHECK_EQ(funcs[i].bdf, bdfs[i]);

    const struct pci_func *edu = &funcs[F_EDU];
    CHECK_EQ(edu->vendor, 0x1234);
    CHECK_EQ(edu->device, 0x11e8);
    CHECK_EQ(edu->class_code, 0x00ff00);
    CHECK_EQ(edu->revision, 0x10);
    CHECK_EQ(edu->header_type, 0);
    CHECK_EQ(edu->irq_pin, 1);
    CHECK_EQ(edu->nbars, 6);
    check_bar(edu, 0, 0x100000, 0);
    for (unsigned i = 1; i < 6; i++)
        check_bar(edu, i, 0, 0);

    const struct pci_func *m = &funcs[F_MULTI];
    CHECK_EQ(m->irq_pin, 2);
    check_bar(m, 0, 0x20, PCI_BAR_IO);             /* 0xffe1: lowest address bit 5 */
    check_bar(m, 1, 0x100, 0);                     /* 0xffffff00 */
    check_bar(m, 2, 0x200000000ull, PCI_BAR_MEM64 | PCI_BAR_PREFETCH); /* lo 0xc, hi 0xfffffffe */
    check_bar(m, 3, 0, PCI_BAR_UPPER);
    check_bar(m, 4, 0x4000, PCI_BAR_MEM64);        /* lo 0xffffc004, hi ~0 */
    check_bar(m, 5, 0, PCI_BAR_UPPER);

    CHECK_EQ(funcs[F_MF0].header_type, 0x80);
    check_bar(&funcs[F_MF0], 0, 0x1000, 0);
    check_bar(&funcs[F_MF1], 0, 0x10, PCI_BAR_IO);
    check_bar(&funcs[F_MF3], 0, 0, 0);
    check_bar(&funcs[F_MF3], 1, 0x2000, PCI_BAR_PREFETCH);
    check_bar(&funcs[F_SINGLE], 5, 0x10000, 0);
    CHECK_EQ(funcs[F_BRIDGE].nbars, 2);
    CHECK_EQ(funcs[F_BRIDGE].class_code, 0x060400);
    check_bar(&funcs[F_BRIDGE], 0, 0x1000, 0);
    check_bar(&funcs[F_ODD], 5, 0, 0);             /* a pair cannot start in BAR5 */
    CHECK_EQ(funcs[F_HOST].class_code, 0x060000);
    check_bar(&funcs[F_HOST], 0, 0, 0);
}

/* Sizing must leave the devices as it found them. */
static void test_sizing_side_effects(void)
{
    enumerate();
    CHECK_EQ(stats.probes_decoding, 0);
    CHECK_EQ(stats.writes_elsewhere, 0);
    CHECK_EQ(stats.bad_accesses, 0);
    const struct fake_fn *m = &fake[2][0];
    CHECK_EQ(get32(m->cfg, PCI_COMMAND) & 0xffff, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    CHECK_EQ(get32(m->cfg, PCI_COMMAND) >> 16, 0x2000 | PCI_STATUS_CAP_LIST);
    CHECK_EQ(get32(fake[1][0].cfg, PCI_BAR0), 0xfeb00000);
    CHECK_EQ(get32(m->cfg, PCI_BAR0), PCI_BAR_SPACE_IO);
    CHECK_EQ(get32(m->cfg, PCI_BAR0 + 8), 0xc);
    CHECK_EQ(get32(m->cfg, PCI_BAR0 + 12), 0);
    /* A function with decode off is not written to enable it. */
    CHECK_EQ(get32(fake[1][0].cfg, PCI_COMMAND) & 0xffff, 0);
}

static void test_enumerate_table_full(void)
{
    fake_build();
    struct pci_func small[4];
    struct pci_table t = {small, ARRAY_SIZE(small), 0};
    CHECK_EQ(pci_enumerate(&fake_ops, 0, &t), PCI_ERR_TABLE_FULL);
    CHECK_EQ(t.count, 4);
    CHECK_EQ(small[3].bdf, BDF(3, 0));
    CHECK(strcmp(pci_strerror(PCI_ERR_TABLE_FULL), "unknown PCI error") != 0);

    /* An empty or absent bus finds nothing. */
    t = (struct pci_table){small, ARRAY_SIZE(small), 7};
    CHECK_EQ(pci_enumerate(&fake_ops, 1, &t), PCI_OK);
    CHECK_EQ(t.count, 0);
}

static void test_cfg_helpers(void)
{
    fake_build();
    CHECK_EQ(pci_cfg_read(&fake_ops, BDF(1, 0), PCI_DEVICE_ID, 2), 0x11e8);
    CHECK_EQ(pci_cfg_read(&fake_ops, BDF(1, 0), PCI_INTERRUPT_PIN, 1), 1);
    CHECK_EQ(pci_cfg_read(&fake_ops, BDF(1, 0), 1, 2), 0xffff);       /* misaligned */
    CHECK_EQ(pci_cfg_read(&fake_ops, BDF(1, 0), 0x1000, 4), 0xffffffffu);
    CHECK_EQ(pci_cfg_read(&fake_ops, BDF(1, 0), 0, 3), 0xffffffffu);
    CHECK_EQ(pci_cfg_read(&fake_ops, BDF(9, 0), 0, 2), 0xffff);        /* empty slot */
    CHECK_EQ(stats.bad_accesses, 0);

    CHECK_EQ(pci_find_capability(&fake_ops, BDF(1, 0), PCI_CAP_ID_MSI), 0x40);
    CHECK_EQ(pci_find_capability(&fake_ops, BDF(2, 0), PCI_CAP_ID_MSIX), 0x60);
    CHECK_EQ(pci_find_capability(&fake_ops, BDF(2, 0), PCI_CAP_ID_VNDR), 0x50);
    CHECK_EQ(pci_find_capability(&fake_ops, BDF(2, 0), PCI_CAP_ID_EXP), 0);
    CHECK_EQ(pci_find_capability(&fake_ops, BDF(0, 0), PCI_CAP_ID_MSI), 0);
    CHECK_EQ(pci_find_capability(&fake_ops, BDF(6, 0), PCI_CAP_ID_MSI), 0); /* loop ends */

    /* The command write leaves status error bits alone. */
    pci_cfg_write_command(&fake_ops, BDF(2, 0), PCI_COMMAND_MASTER);
    CHECK_EQ(pci_cfg_read(&fake_ops, BDF(2, 0), PCI_COMMAND, 2), PCI_COMMAND_MASTER);
    CHECK_EQ(pci_cfg_read(&fake_ops, BDF(2, 0), PCI_STATUS, 2), 0x2000 | PCI_STATUS_CAP_LIST);
}

/* ---- Assignment -------------------------------------------------------- */

#define MEM32_BASE 0x40000000ull
#define MEM64_BASE 0x400000000ull

static struct pci_windows virt_windows(void)
{
    struct pci_windows w;
    pci_window_init(&w.mem32, MEM32_BASE, GIB(1));
    pci_window_init(&w.mem64, MEM64_BASE, GIB(16));
    pci_window_init(&w.io, 0x1000, 0xf000);
    return w;
}

static void check_assigned(const struct pci_func *f, unsigned i, uint64_t addr)
{
    CHECK(f->bar[i].flags & PCI_BAR_ASSIGNED);
    CHECK_EQ(f->bar[i].addr, addr);
}

static bool in_window(const struct pci_window *w, uint64_t addr, uint64_t size)
{
    return w->size && addr >= w->base && addr - w->base + size <= w->size;
}

/* Every assigned BAR: whole pages, aligned to its size, inside a window of
 * its kind, overlapping no other, and programmed into the device. */
static void check_assignment_sound(const struct pci_windows *w)
{
    unsigned bad = 0;
    for (unsigned fi = 0; fi < table.count; fi++) {
        const struct pci_func *f = &funcs[fi];
        for (unsigned bi = 0; bi < f->nbars; bi++) {
            const struct pci_bar *b = &f->bar[bi];
            if (!(b->flags & PCI_BAR_ASSIGNED))
                continue;
            uint64_t block = MAX(b->size, PAGE_SIZE);
            bad += !IS_ALIGNED(b->addr, block);
            if (b->flags & PCI_BAR_IO)
                bad += !in_window(&w->io, b->addr, block);
            else if (b->flags & PCI_BAR_MEM64)
                bad += !in_window(&w->mem64, b->addr, block) && !in_window(&w->mem32, b->addr, block);
            else
                bad += !in_window(&w->mem32, b->addr, block) || b->addr + block > GIB(4);
            uint32_t lo = fake_read32(NULL, f->bdf, PCI_BAR0 + 4 * bi);
            uint32_t type_mask = (b->flags & PCI_BAR_IO) ? 3u : 0xfu;
            uint64_t programmed = lo & ~type_mask;
            if (b->flags & PCI_BAR_MEM64)
                programmed |= (uint64_t)fake_read32(NULL, f->bdf, PCI_BAR0 + 4 * bi + 4) << 32;
            bad += programmed != b->addr;
            for (unsigned fj = 0; fj < table.count; fj++)
                for (unsigned bj = 0; bj < funcs[fj].nbars; bj++) {
                    const struct pci_bar *o = &funcs[fj].bar[bj];
                    if ((fj == fi && bj == bi) || !(o->flags & PCI_BAR_ASSIGNED) ||
                        (o->flags & PCI_BAR_IO) != (b->flags & PCI_BAR_IO))
                        continue;
                    uint64_t oblock = MAX(o->size, PAGE_SIZE);
                    bad += o->addr < b->addr + block && b->addr < o->addr + oblock;
                }
        }
    }
    CHECK_EQ(bad, 0);
}

static void test_assign(void)
{
    enumerate();
    struct pci_windows w = virt_windows();
    struct pci_assign_error err = {0};
    CHECK_EQ(pci_assign(&fake_ops, &table, &w, &err), PCI_OK);
    /* Largest first: 8 GiB -> mem64 base; 1 MiB, 64 KiB, then 8 KiB and the
     * 4 KiB ones (table order) and the 256-byte one rounded to a page pack
     * mem32 from its base; 16 KiB 64-bit -> mem64 after the 8 GiB; I/O 32
     * then 16 bytes, a page each, from 0x1000. */
    check_assigned(&funcs[F_MULTI], 2, MEM64_BASE);
    check_assigned(&funcs[F_EDU], 0, MEM32_BASE);
    check_assigned(&funcs[F_SINGLE], 5, MEM32_BASE + 0x100000);
    check_assigned(&funcs[F_MULTI], 4, MEM64_BASE + 0x200000000ull);
    check_assigned(&funcs[F_MF3], 1, MEM32_BASE + 0x110000);
    check_assigned(&funcs[F_MF0], 0, MEM32_BASE + 0x112000);
    check_assigned(&funcs[F_BRIDGE], 0, MEM32_BASE + 0x113000);
    check_assigned(&funcs[F_MULTI], 1, MEM32_BASE + 0x114000);
    check_assigned(&funcs[F_MULTI], 0, 0x1000);
    check_assigned(&funcs[F_MF1], 0, 0x2000);
    CHECK(!(funcs[F_MULTI].bar[3].flags & PCI_BAR_ASSIGNED));
    CHECK(!(funcs[F_EDU].bar[1].flags & PCI_BAR_ASSIGNED));
    CHECK_EQ(w.mem32.next, MEM32_BASE + 0x115000);
    /* The device registers hold them, type bits intact. */
    CHECK_EQ(fake_read32(NULL, BDF(2, 0), PCI_BAR0), 0x1001);
    CHECK_EQ(fake_read32(NULL, BDF(2, 0), PCI_BAR0 + 8), 0xc);
    CHECK_EQ(fake_read32(NULL, BDF(2, 0), PCI_BAR0 + 12), 0x4);
    CHECK_EQ(fake_read32(NULL, BDF(2, 0), PCI_BAR0 + 16), 0x00000004);
    CHECK_EQ(fake_read32(NULL, BDF(2, 0), PCI_BAR0 + 20), 0x6);
    CHECK_EQ(fake_read32(NULL, BDF(1, 0), PCI_BAR0), 0x40000000);
    CHECK_EQ(fake_read32(NULL, BDF(3, 3), PCI_BAR0 + 4), 0x40110008);
    check_assignment_sound(&w);
    CHECK_EQ(stats.writes_elsewhere, 0);

    /* A mem32 window starting off alignment: the 1 MiB BAR rounds up. */
    enumerate();
    w = virt_windows();
    pci_window_init(&w.mem32, MEM32_BASE + 0x1000, MIB(16));
    CHECK_EQ(pci_assign(&fake_ops, &table, &w, NULL), PCI_OK);
    check_assigned(&funcs[F_EDU], 0, MEM32_BASE + 0x100000);
    check_assignment_sound(&w);
}

static void test_assign_exhaustion(void)
{
    /* mem32 holds only the 1 MiB BAR: the 64 KiB one is the first failure,
     * the others fail too, and the 64-bit ones still land in mem64. */
    enumerate();
    struct pci_windows w = virt_windows();
    pci_window_init(&w.mem32, MEM32_BASE, MIB(1));
    struct pci_assign_error err = {0};
    CHECK_EQ(pci_assign(&fake_ops, &table, &w, &err), PCI_ERR_WINDOW_FULL);
    CHECK_EQ(err.bdf, BDF(4, 0));
    CHECK_EQ(err.bar, 5);
    CHECK_EQ(err.size, 0x10000);
    CHECK_EQ(err.flags, 0);
    check_assigned(&funcs[F_EDU], 0, MEM32_BASE);
    check_assigned(&funcs[F_MULTI], 2, MEM64_BASE);
    check_assigned(&funcs[F_MULTI], 4, MEM64_BASE + 0x200000000ull);
    CHECK(!(funcs[F_SINGLE].bar[5].flags & PCI_BAR_ASSIGNED));
    CHECK(!(funcs[F_MF0].bar[0].flags & PCI_BAR_ASSIGNED));
    check_assigned(&funcs[F_MULTI], 0, 0x1000);
    check_assignment_sound(&w);
    CHECK(strstr(pci_strerror(PCI_ERR_WINDOW_FULL), "window") != NULL);

    /* No 64-bit window: 64-bit BARs fall back to mem32; 8 GiB cannot. */
    enumerate();
    w = virt_windows();
    pci_window_init(&w.mem64, 0, 0);
    CHECK_EQ(pci_assign(&fake_ops, &table, &w, &err), PCI_ERR_WINDOW_FULL);
    CHECK_EQ(err.bdf, BDF(2, 0));
    CHECK_EQ(err.bar, 2);
    CHECK_EQ(err.size, 0x200000000ull);
    CHECK_EQ(err.flags, PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
    /* 1 MiB, 64 KiB, 16 KiB (the 64-bit one, in mem32 now), 8 KiB, ... */
    check_assigned(&funcs[F_MULTI], 4, MEM32_BASE + 0x110000);
    check_assignment_sound(&w);

    /* A 4 GiB mem64 window is too small for 8 GiB even though it is free. */
    enumerate();
    w = virt_windows();
    pci_window_init(&w.mem64, MEM64_BASE, GIB(4));
    CHECK_EQ(pci_assign(&fake_ops, &table, &w, &err), PCI_ERR_WINDOW_FULL);
    CHECK_EQ(err.size, 0x200000000ull);
    check_assigned(&funcs[F_MULTI], 4, MEM64_BASE);

    /* One page of I/O space: the second I/O BAR fails. */
    enumerate();
    w = virt_windows();
    pci_window_init(&w.io, 0x1000, 0x1000);
    CHECK_EQ(pci_assign(&fake_ops, &table, &w, &err), PCI_ERR_WINDOW_FULL);
    CHECK_EQ(err.bdf, BDF(3, 1));
    CHECK_EQ(err.flags, PCI_BAR_IO);
    check_assigned(&funcs[F_MULTI], 0, 0x1000);
    check_assignment_sound(&w);

    /* A mem32 window reaching past 4 GiB is used only below 4 GiB, even
     * by a 64-bit BAR falling back to it. */
    enumerate();
    w = virt_windows();
    pci_window_init(&w.mem32, 0xfff00000, MIB(2));
    pci_window_init(&w.mem64, 0, 0);
    CHECK_EQ(pci_assign(&fake_ops, &table, &w, &err), PCI_ERR_WINDOW_FULL);
    check_assigned(&funcs[F_EDU], 0, 0xfff00000);
    CHECK(!(funcs[F_SINGLE].bar[5].flags & PCI_BAR_ASSIGNED));
    CHECK(!(funcs[F_MULTI].bar[4].flags & PCI_BAR_ASSIGNED));
    CHECK(!(funcs[F_MF3].bar[1].flags & PCI_BAR_ASSIGNED));
    check_assignment_sound(&w);

    /* Re-running on a roomy window assigns everything again. */
    w = virt_windows();
    CHECK_EQ(pci_assign(&fake_ops, &table, &w, NULL), PCI_OK);
    check_assigned(&funcs[F_MF1], 0, 0x2000);
}

static void test_window_alloc(void)
{
    struct pci_window w;
    uint64_t a = 0;
    pci_window_init(&w, 0x10000, 0x10000);
    CHECK(pci_window_alloc(&w, 0x100, &a));     /* a page at least */
    CHECK_EQ(a, 0x10000);
    CHECK(pci_window_alloc(&w, 0x4000, &a));    /* natural alignment skips */
    CHECK_EQ(a, 0x14000);
    CHECK(!pci_window_alloc(&w, 0x3000, &a));   /* not a power of two */
    CHECK(!pci_window_alloc(&w, 0x10000, &a));  /* would pass the end */
    CHECK(pci_window_alloc(&w, 0x8000, &a));    /* exactly the rest */
    CHECK_EQ(a, 0x18000);
    CHECK(!pci_window_alloc(&w, 0x1000, &a));
    CHECK_EQ(a, 0x18000);                       /* untouched on failure */

    /* Near the top of the address space nothing wraps around. */
    pci_window_init(&w, 0xfffffffffffff000ull, 0x1000);
    CHECK(!pci_window_alloc(&w, 0x2000, &a));
    CHECK(pci_window_alloc(&w, 0x1000, &a) == false || a == 0xfffffffffffff000ull);
    pci_window_init(&w, 0, 0);
    CHECK(!pci_window_alloc(&w, 0x1000, &a));
}

/* ---- Virtual config space ---------------------------------------------- */

static struct pci_vfunc vf_edu, vf_multi;

static void assign_all(void)
{
    enumerate();
    struct pci_windows w = virt_windows();
    CHECK_EQ(pci_assign(&fake_ops, &table, &w, NULL), PCI_OK);
}

static void vfunc_edu(struct pci_vfunc *vf, uint32_t allow)
{
    gpaddr_t gpa[PCI_MAX_BARS] = {0x40000000};
    CHECK_EQ(pci_vfunc_init(vf, &fake_ops, &funcs[F_EDU], gpa, allow), PCI_OK);
}

/* The usual start of a virtual-config-space test: every BAR placed, and
 * edu seen by a VM with the default capability filter. */
static struct pci_vfunc *edu_as_vm_sees_it(void)
{
    assign_all();
    vfunc_edu(&vf_edu, PCI_VFUNC_CAPS_DEFAULT);
    return &vf_edu;
}

static void vfunc_multi(struct pci_vfunc *vf)
{
    gpaddr_t gpa[PCI_MAX_BARS] = {0x2000, 0x40001000, 0x200000000ull, 0, 0x100004000ull, 0};
    CHECK_EQ(pci_vfunc_init(vf, &fake_ops, &funcs[F_MULTI], gpa, PCI_VFUNC_CAPS_DEFAULT), PCI_OK);
}

static void test_vconf_ids(void)
{
    struct pci_vfunc *vf = edu_as_vm_sees_it();
    CHECK_EQ(pci_vconf_read(vf, 0, 4), 0x11e81234);
    CHECK_EQ(pci_vconf_read(vf, 0, 2), 0x1234);
    CHECK_EQ(pci_vconf_read(vf, 2, 2), 0x11e8);
    CHECK_EQ(pci_vconf_read(vf, 1, 1), 0x12);
    CHECK_EQ(pci_vconf_read(vf, 8, 4), 0x00ff0010);
    CHECK_EQ(pci_vconf_read(vf, 0x0a, 2), 0x00ff);
    CHECK_EQ(pci_vconf_read(vf, 0x0e, 1), 0);
    CHECK_EQ(pci_vconf_read(vf, 0x2c, 4), 0x11001af4);
    CHECK_EQ(pci_vconf_read(vf, 0x3d, 1), 1);

    /* Writes to read-only fields change nothing. */
    unsigned before = stats.writes;
    CHECK_EQ(pci_vconf_write(vf, 0, 4, 0), 0);
    CHECK_EQ(pci_vconf_write(vf, 8, 4, 0xffffffff), 0);
    CHECK_EQ(pci_vconf_write(vf, 0x0e, 1, 0x80), 0);
    CHECK_EQ(pci_vconf_write(vf, 0x3d, 1, 4), 0);
    CHECK_EQ(pci_vconf_read(vf, 0, 4), 0x11e81234);
    CHECK_EQ(pci_vconf_read(vf, 8, 4), 0x00ff0010);
    CHECK_EQ(pci_vconf_read(vf, 0x0e, 1), 0);
    CHECK_EQ(pci_vconf_read(vf, 0x3d, 1), 1);
    CHECK_EQ(stats.writes, before);

    /* A function of a multifunction device sits alone in its virtual slot. */
    struct pci_vfunc mf;
    gpaddr_t gpa[PCI_MAX_BARS] = {0x50000000};
    CHECK_EQ(pci_vfunc_init(&mf, &fake_ops, &funcs[F_MF0], gpa, 0), PCI_OK);
    CHECK_EQ(fake_read32(NULL, BDF(3, 0), 0x0c) >> 16 & 0xff, 0x80);
    CHECK_EQ(pci_vconf_read(&mf, 0x0e, 1), 0);
}

static void test_vconf_command(void)
{
    struct pci_vfunc *vf = edu_as_vm_sees_it();
    unsigned before = stats.writes;
    CHECK_EQ(pci_vconf_read(vf, PCI_COMMAND, 2), 0);
    CHECK(!pci_vfunc_bar_live(vf, 0));
    CHECK_EQ(pci_vconf_write(vf, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
             PCI_VCONF_COMMAND);
    CHECK_EQ(pci_vfunc_command(vf), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    CHECK(pci_vfunc_bus_master(vf));
    CHECK(pci_vfunc_bar_live(vf, 0));
    CHECK(!pci_vfunc_bar_live(vf, 1));
    CHECK(!pci_vfunc_bar_live(vf, 6));
    CHECK_EQ(pci_vconf_write(vf, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), 0);
    /* Only bits a device keeps stick. */
    CHECK_EQ(pci_vconf_write(vf, PCI_COMMAND, 4, 0xffffffff), PCI_VCONF_COMMAND);
    CHECK_EQ(pci_vconf_read(vf, PCI_COMMAND, 2), 0x0547);
    /* Byte write to the high half: only INTx disable (bit 10) and SERR (8). */
    CHECK_EQ(pci_vconf_write(vf, PCI_COMMAND + 1, 1, 0), PCI_VCONF_COMMAND);
    CHECK_EQ(pci_vconf_read(vf, PCI_COMMAND, 2), 0x0047);
    /* A status-only write is no command change and clears nothing. */
    CHECK_EQ(pci_vconf_write(vf, PCI_STATUS, 2, 0xffff), 0);
    CHECK_EQ(pci_vconf_read(vf, PCI_COMMAND, 2), 0x0047);
    CHECK_EQ(pci_vconf_write(vf, PCI_COMMAND, 2, 0), PCI_VCONF_COMMAND);
    CHECK(!pci_vfunc_bus_master(vf));
    CHECK_EQ(stats.writes, before);  /* the caller, not vconf, programs hardware */

    /* Status comes from the device: its error bits show, the cap-list bit
     * only when a capability is visible (edu's MSI is hidden by default). */
    vfunc_multi(&vf_multi);
    CHECK_EQ(pci_vconf_read(&vf_multi, PCI_STATUS, 2), 0x2000 | PCI_STATUS_CAP_LIST);
    CHECK_EQ(pci_vconf_read(vf, PCI_STATUS, 2), 0);
    fake[1][0].cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    CHECK_EQ(pci_vconf_read(vf, PCI_STATUS, 2), PCI_STATUS_INTERRUPT);

    /* Scratch registers keep the VM's values; BIST stays 0. */
    pci_vconf_write(vf, PCI_CACHE_LINE_SIZE, 1, 0x10);
    pci_vconf_write(vf, PCI_LATENCY_TIMER, 1, 0x40);
    pci_vconf_write(vf, PCI_BIST, 1, 0x40);
    CHECK_EQ(pci_vconf_read(vf, PCI_CACHE_LINE_SIZE, 4), 0x00004010);
    pci_vconf_write(vf, PCI_INTERRUPT_LINE, 1, 0x0b);
    CHECK_EQ(pci_vconf_read(vf, PCI_INTERRUPT_LINE, 1), 0x0b);
    CHECK_EQ(pci_vconf_write(vf, PCI_INTERRUPT_LINE, 4, 0xffffffff), 0);
    CHECK_EQ(pci_vconf_read(vf, PCI_INTERRUPT_LINE, 4), 0x000001ff);
}

static void test_vconf_bars(void)
{
    struct pci_vfunc *vf = edu_as_vm_sees_it();
    CHECK_EQ(vf->bar[0].host_addr, MEM32_BASE);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0, 4), 0x40000000);
    /* Sizing: all ones reads the 1 MiB mask; restoring moves it back. */
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0, 4, 0xffffffff), PCI_VCONF_BAR_MOVED(0));
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0, 4), 0xfff00000);
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0, 4, 0x40000000), PCI_VCONF_BAR_MOVED(0));
    CHECK_EQ(vf->bar[0].guest_addr, 0x40000000);
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0, 4, 0x40000000), 0);
    /* Low bits below the size are dropped, partial writes merge. */
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0, 4, 0x12345678), PCI_VCONF_BAR_MOVED(0));
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0, 4), 0x12300000);
    pci_vconf_write(vf, PCI_BAR0 + 3, 1, 0x50);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0, 4), 0x50300000);
    pci_vconf_write(vf, PCI_BAR0 + 2, 2, 0xffff);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0, 4), 0xfff00000);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 2, 2), 0xfff0);
    /* Absent BARs and the expansion ROM read 0 whatever is written. */
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0 + 4, 4, 0xffffffff), 0);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 4, 4), 0);
    CHECK_EQ(pci_vconf_write(vf, PCI_ROM_ADDRESS, 4, 0xffffffff), 0);
    CHECK_EQ(pci_vconf_read(vf, PCI_ROM_ADDRESS, 4), 0);

    assign_all();
    vfunc_multi(&vf_multi);
    vf = &vf_multi;
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0, 4), 0x2001);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 4, 4), 0x40001000);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 8, 4), 0x0000000c);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 12, 4), 0x2);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 16, 4), 0x00004004);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 20, 4), 0x1);
    CHECK_EQ(vf->bar[2].host_addr, MEM64_BASE);
    CHECK_EQ(vf->bar[1].size, PAGE_SIZE);  /* 256 bytes shown as a page */
    CHECK_EQ(vf->bar[0].size, PAGE_SIZE);
    /* I/O and sub-page BARs size as one page. */
    pci_vconf_write(vf, PCI_BAR0, 4, 0xffffffff);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0, 4), 0xfffff001);
    pci_vconf_write(vf, PCI_BAR0 + 4, 4, 0xffffffff);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 4, 4), 0xfffff000);
    /* 64-bit 8 GiB pair: low half has no address bits, high half 0xfffffffe. */
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0 + 8, 4, 0xffffffff), 0);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 8, 4), 0x0000000c);
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0 + 12, 4, 0xffffffff), PCI_VCONF_BAR_MOVED(2));
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 12, 4), 0xfffffffe);
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0 + 12, 4, 0x3), PCI_VCONF_BAR_MOVED(2));
    CHECK_EQ(vf->bar[2].guest_addr, 0x200000000ull);
    /* 16 KiB pair: lower mask 0xffffc004, upper all ones. */
    pci_vconf_write(vf, PCI_BAR0 + 16, 4, 0xffffffff);
    pci_vconf_write(vf, PCI_BAR0 + 20, 4, 0xffffffff);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 16, 4), 0xffffc004);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0 + 20, 4), 0xffffffff);
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0 + 20, 4, 0), PCI_VCONF_BAR_MOVED(4));
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0 + 16, 4, 0x80000000), PCI_VCONF_BAR_MOVED(4));
    CHECK_EQ(vf->bar[4].guest_addr, 0x80000000);

    /* Decode bits decide what is live, per space. */
    pci_vconf_write(vf, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    CHECK(!pci_vfunc_bar_live(vf, 0));
    CHECK(pci_vfunc_bar_live(vf, 1) && pci_vfunc_bar_live(vf, 2) && pci_vfunc_bar_live(vf, 4));
    CHECK(!pci_vfunc_bar_live(vf, 3) && !pci_vfunc_bar_live(vf, 5));
    pci_vconf_write(vf, PCI_COMMAND, 2, PCI_COMMAND_IO);
    CHECK(pci_vfunc_bar_live(vf, 0) && !pci_vfunc_bar_live(vf, 2));
}

static void test_vconf_init_errors(void)
{
    assign_all();
    struct pci_vfunc vf;
    gpaddr_t gpa[PCI_MAX_BARS] = {0};
    gpa[0] = 0x1000;
    CHECK_EQ(pci_vfunc_init(&vf, &fake_ops, &funcs[F_BRIDGE], gpa, 0), PCI_ERR_NOT_ENDPOINT);
    gpa[0] = 0x40080000;  /* not 1 MiB aligned */
    CHECK_EQ(pci_vfunc_init(&vf, &fake_ops, &funcs[F_EDU], gpa, 0), PCI_ERR_BAD_GUEST_BAR);
    gpa[0] = 0x100000000ull;  /* 32-bit BAR above 4 GiB */
    CHECK_EQ(pci_vfunc_init(&vf, &fake_ops, &funcs[F_EDU], gpa, 0), PCI_ERR_BAD_GUEST_BAR);
    gpa[0] = 0xfff00000;  /* the last MiB below 4 GiB is fine */
    CHECK_EQ(pci_vfunc_init(&vf, &fake_ops, &funcs[F_EDU], gpa, 0), PCI_OK);
    CHECK_EQ(pci_vconf_read(&vf, PCI_BAR0, 4), 0xfff00000);
    gpa[0] = 0x2000;
    gpa[1] = 0x40000800;  /* a sub-page BAR still needs page alignment */
    CHECK_EQ(pci_vfunc_init(&vf, &fake_ops, &funcs[F_MULTI], gpa, 0), PCI_ERR_BAD_GUEST_BAR);

    /* A BAR that got no address cannot be passed through. */
    enumerate();
    struct pci_windows w = virt_windows();
    pci_window_init(&w.mem32, MEM32_BASE, MIB(1));
    CHECK_EQ(pci_assign(&fake_ops, &table, &w, NULL), PCI_ERR_WINDOW_FULL);
    gpa[0] = 0x50000000;
    CHECK_EQ(pci_vfunc_init(&vf, &fake_ops, &funcs[F_MF0], gpa, 0), PCI_ERR_BAR_UNASSIGNED);
    /* A failed view is an empty slot, not a crash. */
    CHECK_EQ(pci_vconf_read(&vf, PCI_VENDOR_ID, 4), 0xffffffff);
    CHECK_EQ(pci_vconf_read(&vf, 0x40, 2), 0xffff);
    CHECK_EQ(pci_vconf_write(&vf, PCI_COMMAND, 2, PCI_COMMAND_MASTER), 0);
    CHECK(!pci_vfunc_bar_live(&vf, 0) && !pci_vfunc_bus_master(&vf));
    CHECK_EQ(pci_vfunc_init(&vf, &fake_ops, &funcs[F_EDU], gpa, 0), PCI_OK);
}

static void test_vconf_caps(void)
{
    assign_all();
    /* Default: edu's MSI hidden, nothing in 0x40-0xff. */
    vfunc_edu(&vf_edu, PCI_VFUNC_CAPS_DEFAULT);
    CHECK_EQ(pci_vconf_read(&vf_edu, PCI_CAPABILITY_LIST, 1), 0);
    CHECK_EQ(pci_vconf_read(&vf_edu, 0x40, 4), 0);

    /* Allowed: MSI visible read-only, 14 bytes and no more. */
    vfunc_edu(&vf_edu, PCI_CAP_ALLOW(PCI_CAP_ID_MSI));
    CHECK_EQ(pci_vconf_read(&vf_edu, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
    CHECK_EQ(pci_vconf_read(&vf_edu, PCI_CAPABILITY_LIST, 4), 0x40);
    CHECK_EQ(pci_vconf_read(&vf_edu, 0x40, 4), 0x00800005);
    CHECK_EQ(pci_vconf_read(&vf_edu, 0x4c, 4), 0x0000abcd);
    CHECK_EQ(pci_vconf_read(&vf_edu, 0x4e, 2), 0);
    unsigned before = stats.writes;
    CHECK_EQ(pci_vconf_write(&vf_edu, 0x42, 2, 0x0001), 0);
    CHECK_EQ(pci_vconf_read(&vf_edu, 0x40, 4), 0x00800005);
    CHECK_EQ(stats.writes, before);

    /* multi: PM and MSI-X hidden, the two vendor caps chained past them. */
    vfunc_multi(&vf_multi);
    struct pci_vfunc *vf = &vf_multi;
    CHECK_EQ(vf->ncaps, 2);
    CHECK_EQ(pci_vconf_read(vf, PCI_CAPABILITY_LIST, 1), 0x50);
    CHECK_EQ(pci_vconf_read(vf, 0x40, 4), 0);
    CHECK_EQ(pci_vconf_read(vf, 0x50, 4), 0x01107009);
    CHECK_EQ(pci_vconf_read(vf, 0x5c, 4), 0x5f5e5d5c);
    CHECK_EQ(pci_vconf_read(vf, 0x60, 4), 0);
    CHECK_EQ(pci_vconf_read(vf, 0x70, 4), 0x02140009);
    CHECK_EQ(pci_vconf_read(vf, 0x80, 4), 0x83828180);
    CHECK_EQ(pci_vconf_read(vf, 0x84, 4), 0);  /* past the 20 bytes */
    CHECK_EQ(pci_vconf_read(vf, 0x71, 1), 0);

    /* Everything allowed: the whole chain, in order. */
    gpaddr_t gpa[PCI_MAX_BARS] = {0x2000, 0x40001000, 0x200000000ull, 0, 0x100004000ull, 0};
    struct pci_vfunc all;
    CHECK_EQ(pci_vfunc_init(&all, &fake_ops, &funcs[F_MULTI], gpa, 0xffffffffu), PCI_OK);
    CHECK_EQ(all.ncaps, 4);
    CHECK_EQ(pci_vconf_read(&all, 0x41, 1), 0x50);
    CHECK_EQ(pci_vconf_read(&all, 0x61, 1), 0x70);
    CHECK_EQ(pci_vconf_read(&all, 0x48, 4), 0);  /* PM is 8 bytes */

    /* A self-looping list shows its capability once. */
    struct pci_vfunc odd;
    CHECK_EQ(pci_vfunc_init(&odd, &fake_ops, &funcs[F_ODD], gpa, 0xffffffffu), PCI_OK);
    CHECK_EQ(odd.ncaps, 1);
    CHECK_EQ(pci_vconf_read(&odd, 0x40, 4), 0x00080009);
}

static void test_vconf_bounds(void)
{
    struct pci_vfunc *vf = edu_as_vm_sees_it();
    CHECK_EQ(pci_vconf_read(vf, 0x1000, 4), 0xffffffff);
    CHECK_EQ(pci_vconf_read(vf, 0x1000, 1), 0xff);
    CHECK_EQ(pci_vconf_read(vf, 0xffffffffu, 1), 0xff);
    CHECK_EQ(pci_vconf_read(vf, 1, 2), 0xffff);
    CHECK_EQ(pci_vconf_read(vf, 2, 4), 0xffffffff);
    CHECK_EQ(pci_vconf_read(vf, 0, 3), 0xffffffff);
    CHECK_EQ(pci_vconf_read(vf, 0, 8), 0xffffffff);
    CHECK_EQ(pci_vconf_read(vf, 0, 0), 0xffffffff);
    CHECK_EQ(pci_vconf_read(vf, 0x100, 4), 0);   /* no extended capabilities */
    CHECK_EQ(pci_vconf_read(vf, 0xffc, 4), 0);
    CHECK_EQ(pci_vconf_read(vf, 0xfff, 1), 0);
    CHECK_EQ(pci_vconf_write(vf, 0x1000, 4, 0), 0);
    CHECK_EQ(pci_vconf_write(vf, PCI_COMMAND + 1, 2, 0xffff), 0);  /* misaligned */
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0 + 2, 4, 0), 0);
    CHECK_EQ(pci_vconf_write(vf, PCI_BAR0, 3, 0), 0);
    CHECK_EQ(pci_vconf_write(vf, 0x100, 4, 0xffffffff), 0);
    CHECK_EQ(pci_vconf_read(vf, PCI_COMMAND, 2), 0);
    CHECK_EQ(pci_vconf_read(vf, PCI_BAR0, 4), 0x40000000);
}

/* ---- Random VM accesses ------------------------------------------------ */


static unsigned random_offset(void)
{
    switch (unit_random() % 4) {
    case 0: return (unsigned)(unit_random() % 0x40);      /* the header */
    case 1: return PCI_BAR0 + (unsigned)(unit_random() % 0x18);
    case 2: return (unsigned)(unit_random() % 0x1100);    /* anywhere, past the end too */
    default: return (unsigned)unit_random();
    }
}

static uint32_t random_value(void)
{
    switch (unit_random() % 4) {
    case 0: return 0xffffffffu;
    case 1: return 0;
    default: return (uint32_t)unit_random();
    }
}

static const unsigned random_sizes[] = {1, 2, 4, 4, 4, 3, 0, 8};

/* What must hold after any write: BARs read size-aligned addresses with
 * their type bits (absent ones 0), read-only fields unchanged, command bits
 * only those a device keeps.  Returns the number of violations. */
static unsigned vconf_violations(const struct pci_vfunc *vf, const uint32_t *fixed)
{
    unsigned bad = 0;
    bad += pci_vconf_read(vf, 0, 4) != fixed[0];
    bad += pci_vconf_read(vf, 8, 4) != fixed[1];
    bad += pci_vconf_read(vf, 0x2c, 4) != fixed[2];
    bad += (pci_vconf_read(vf, 0x3c, 4) & 0xffffff00u) != fixed[3];
    bad += pci_vconf_read(vf, 0x0c, 4) >> 16 != 0;  /* header type 0, BIST 0 */
    bad += pci_vconf_read(vf, PCI_ROM_ADDRESS, 4) != 0;
    bad += (pci_vconf_read(vf, PCI_COMMAND, 2) & ~0x0547u) != 0;
    for (unsigned i = 0; i < PCI_MAX_BARS; i++) {
        const struct pci_vbar *vb = &vf->bar[i];
        uint32_t v = pci_vconf_read(vf, PCI_BAR0 + 4 * i, 4);
        if (vb->flags & PCI_BAR_UPPER) {
            bad += (v & (uint32_t)((vf->bar[i - 1].size - 1) >> 32)) != 0;
            continue;
        }
        if (!vb->size) {
            bad += v != 0;
            continue;
        }
        uint32_t type_mask = (vb->flags & PCI_BAR_IO) ? 3u : 0xfu;
        uint32_t type = (vb->flags & PCI_BAR_IO) ? 1u
                      : ((vb->flags & PCI_BAR_MEM64) ? 4u : 0u) |
                        ((vb->flags & PCI_BAR_PREFETCH) ? 8u : 0u);
        bad += (v & type_mask) != type;
        bad += (v & ~type_mask & (uint32_t)(vb->size - 1)) != 0;
        bad += (vb->guest_addr & (vb->size - 1)) != 0;
    }
    return bad;
}

static void random_bar_reads(const struct pci_vfunc *vf, uint32_t *out)
{
    for (unsigned i = 0; i < PCI_MAX_BARS; i++)
        out[i] = pci_vconf_read(vf, PCI_BAR0 + 4 * i, 4);
}

/* The BAR-moved bits name exactly the BARs whose reads changed. */
static unsigned moved_mismatches(const struct pci_vfunc *vf, const uint32_t *before,
                                 const uint32_t *after, unsigned result)
{
    unsigned bad = 0;
    for (unsigned i = 0; i < PCI_MAX_BARS; i++) {
        if (vf->bar[i].flags & PCI_BAR_UPPER)
            continue;
        bool changed = before[i] != after[i];
        if ((vf->bar[i].flags & PCI_BAR_MEM64) && i + 1 < PCI_MAX_BARS)
            changed |= before[i + 1] != after[i + 1];
        bad += changed != ((result & PCI_VCONF_BAR_MOVED(i)) != 0);
    }
    return bad;
}

static void fuzz_vfunc(struct pci_vfunc *vf, unsigned iterations)
{
    uint32_t fixed[4] = {pci_vconf_read(vf, 0, 4), pci_vconf_read(vf, 8, 4),
                         pci_vconf_read(vf, 0x2c, 4), pci_vconf_read(vf, 0x3c, 4) & 0xffffff00u};
    uint32_t caps[0xc0 / 4];
    for (unsigned i = 0; i < ARRAY_SIZE(caps); i++)
        caps[i] = pci_vconf_read(vf, 0x40 + 4 * i, 4);
    static struct fake_fn snapshot[PCI_MAX_DEVS][PCI_MAX_FNS];
    memcpy(snapshot, fake, sizeof(fake));
    unsigned writes = stats.writes;
    unsigned bad = 0, moved_bad = 0, read_bad = 0, cap_bad = 0;

    for (unsigned n = 0; n < iterations; n++) {
        unsigned offset = random_offset();
        unsigned size = random_sizes[unit_random() % ARRAY_SIZE(random_sizes)];
        uint32_t before[PCI_MAX_BARS], after[PCI_MAX_BARS];
        random_bar_reads(vf, before);
        unsigned result = pci_vconf_write(vf, offset, size, random_value());
        random_bar_reads(vf, after);
        moved_bad += moved_mismatches(vf, before, after, result);
        bad += vconf_violations(vf, fixed);

        unsigned roff = random_offset();
        unsigned rsize = random_sizes[unit_random() % ARRAY_SIZE(random_sizes)];
        uint32_t v = pci_vconf_read(vf, roff, rsize);
        bool valid = (rsize == 1 || rsize == 2 || rsize == 4) && roff < 0x1000 && roff % rsize == 0;
        uint32_t ones = rsize == 1 ? 0xff : rsize == 2 ? 0xffff : 0xffffffffu;
        if (!valid)
            read_bad += v != ones;
        else if (rsize < 4)
            read_bad += v > ones;
        if (n % 64 == 0)
            for (unsigned i = 0; i < ARRAY_SIZE(caps); i++)
                cap_bad += pci_vconf_read(vf, 0x40 + 4 * i, 4) != caps[i];
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(moved_bad, 0);
    CHECK_EQ(read_bad, 0);
    CHECK_EQ(cap_bad, 0);
    CHECK_EQ(stats.writes, writes);                           /* never wrote the device */
    CHECK(memcmp(snapshot, fake, sizeof(fake)) == 0);
}

static void test_vconf_random(void)
{
    assign_all();
    vfunc_edu(&vf_edu, PCI_CAP_ALLOW(PCI_CAP_ID_MSI));
    vfunc_multi(&vf_multi);
    struct pci_vfunc mf3;
    gpaddr_t gpa[PCI_MAX_BARS] = {0, 0x60002000};
    CHECK_EQ(pci_vfunc_init(&mf3, &fake_ops, &funcs[F_MF3], gpa, 0), PCI_OK);

    const char *env = getenv("PCI_FUZZ_ITERS");
    unsigned iterations = env ? (unsigned)strtoul(env, NULL, 0) : 20000;
    fuzz_vfunc(&vf_edu, iterations);
    fuzz_vfunc(&vf_multi, iterations);
    fuzz_vfunc(&mf3, iterations);
}

void unit_main(void)
{
    test_addresses();
    test_enumerate();
    test_sizing_side_effects();
    test_enumerate_table_full();
    test_cfg_helpers();
    test_assign();
    test_assign_exhaustion();
    test_window_alloc();
    test_vconf_ids();
    test_vconf_command();
    test_vconf_bars();
    test_vconf_init_errors();
    test_vconf_caps();
    test_vconf_bounds();
    test_vconf_random();
}
