/*
 * plugin.c — tlbsim, a QEMU TCG plugin that simulates each hart's TLBs and
 * charges the page walks a real hart would make on their misses.
 *
 *   qemu-system-riscv64 ... -plugin build/tlbsim/libtlbsim.so,out=FILE[,itlb=N,dtlb=N,l2=N,pwc=N,guest=virt|native]
 *
 * Per hart: L1 instruction and data TLBs, a unified L2 TLB (entries as
 * given, LRU) and an optional page-walk cache (tlb.h, walk.h).  What the
 * plugin sees and how:
 *  - Translation context (privilege, V, satp, hgatp) is read from the
 *    gdbstub registers at the start of every translation block.  It cannot
 *    change inside one: traps and xRET start new blocks, and QEMU ends a
 *    block after every CSR write.  QEMU keeps the active first-stage root in
 *    its `satp` register (it swaps satp and vsatp when V changes), so
 *    `satp` is the root of whatever stage 1 is running.
 *  - Data accesses: a memory callback on every load and store, with the
 *    virtual address and the physical address QEMU used.
 *  - Instruction fetches: one lookup per block and one more where a block
 *    runs onto another 4 KiB page (every fetch of a page would hit again).
 *  - Page tables: the QEMU 10.0 plugin API cannot read physical memory, so
 *    the plugin keeps a mirror of RAM built from every store the harts
 *    make (page tables are written by stores: the guest's, Umbra's shadows
 *    and G-stage).  Walks read the mirror; every data-access walk is
 *    checked against the physical address QEMU used (walk_mismatches).
 *  - Flushes: sfence.vma, hfence.vvma, hfence.gvma recognised from their
 *    encodings at translation time, their rs1/rs2 read when they execute;
 *    one that traps (U-mode, V=1 with hstatus.VTVM, hfence with V=1) flushes
 *    nothing: Umbra emulates it with fences of its own.
 *  - The workload window: the guest reads `instret` right before and right
 *    after a workload (tinyos, Linux /init); the plugin counts everything a
 *    second time between such reads made by the guest (V=1, or with
 *    guest=native V=0 below M), so figures cover the workload alone.
 *
 * The report (CSV, at exit): one row per hart, privilege/virtualization
 * mode and scope (all: the whole run; window: the workload).
 */
#include "tools/tlbsim/qemu_plugin_api.h"
#include "tools/tlbsim/tlb.h"
#include "tools/tlbsim/walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

TLBSIM_EXPORT int qemu_plugin_version = TLBSIM_QEMU_PLUGIN_VERSION;

/* ---- configuration ---- */

static struct {
    unsigned itlb, dtlb, l2, pwc;
    bool guest_native;          /* the workload runs with V=0 (no Umbra) */
    const char *out;
} cfg = { 32, 32, 1024, 0, false, NULL };

/* ---- the mirror of RAM ---- */

#define RAM_BASE 0x80000000ull
#define MIRROR_SIZE (16ull << 30)       /* reserved, not committed: pages appear on first store */
static uint8_t *mirror;

static bool mirror_read(void *ctx, uint64_t pa, uint64_t *pte)
{
    (void)ctx;
    if (pa < RAM_BASE || pa - RAM_BASE > MIRROR_SIZE - 8 || (pa & 7))
        return false;
    memcpy(pte, mirror + (pa - RAM_BASE), 8);
    return true;
}

static void mirror_store(uint64_t pa, qemu_plugin_mem_value v, unsigned size)
{
    if (pa < RAM_BASE || pa - RAM_BASE > MIRROR_SIZE - size)
        return;
    uint8_t *dst = mirror + (pa - RAM_BASE);
    switch (v.type) {
    case QEMU_PLUGIN_MEM_VALUE_U8: memcpy(dst, &v.data.u8, 1); break;
    case QEMU_PLUGIN_MEM_VALUE_U16: memcpy(dst, &v.data.u16, 2); break;
    case QEMU_PLUGIN_MEM_VALUE_U32: memcpy(dst, &v.data.u32, 4); break;
    case QEMU_PLUGIN_MEM_VALUE_U64: memcpy(dst, &v.data.u64, 8); break;
    case QEMU_PLUGIN_MEM_VALUE_U128:
        memcpy(dst, &v.data.u128.low, 8);
        memcpy(dst + 8, &v.data.u128.high, 8);
        break;
    }
}

/* ---- per-hart state ---- */

enum mode { MODE_U, MODE_S, MODE_M, MODE_VU, MODE_VS, MODES };
static const char *const mode_names[MODES] = { "U", "S", "M", "VU", "VS" };
enum scope { SCOPE_ALL, SCOPE_WINDOW, SCOPES };
static const char *const scope_names[SCOPES] = { "all", "window" };

struct counts {
    uint64_t blocks, insns, fetch_lookups, data_lookups, l1i_misses, l1d_misses;
    uint64_t tlb_misses, walk_refs, pwc_hits, walks_2d, walk_faults, walk_mismatches;
    uint64_t misses_4k, misses_2m, misses_1g, flushes, flushed_entries;
};

enum xlate { XLATE_NONE, XLATE_1D, XLATE_2D };

struct hart {
    struct tlb l1i, l1d, l2, pwc;
    struct walk_mem mem;
    /* translation context, refreshed at every block */
    enum mode mode;
    bool virt;
    enum xlate xlate;
    struct walk_stage s1, g;
    struct tlb_tag tag;
    bool in_window;
    unsigned windows;
    struct counts c[SCOPES][MODES];
    GByteArray *buf;
};

static struct hart *harts;
static unsigned nharts;

/* gdbstub register handles: x0..x31 then the named ones. */
static struct qemu_plugin_register *gpr[32], *reg_priv, *reg_satp, *reg_vsatp, *reg_hgatp, *reg_hstatus;

/* The register's value; false when QEMU refuses the read (it applies the
 * CSR's access checks to the debugger too). */
static bool try_read_reg(struct hart *h, struct qemu_plugin_register *r, uint64_t *v)
{
    *v = 0;
    g_byte_array_set_size(h->buf, 0);
    int n = qemu_plugin_read_register(r, h->buf);
    if (n <= 0)
        return false;
    memcpy(v, h->buf->data, n < 8 ? (size_t)n : 8);
    return true;
}

static uint64_t read_reg(struct hart *h, struct qemu_plugin_register *r)
{
    uint64_t v;
    try_read_reg(h, r, &v);
    return v;
}

/* The first-stage root in use.  QEMU keeps it in `satp` whatever V is (it
 * swaps satp and vsatp when V changes), but refuses to read satp in
 * VS-mode while hstatus.VTVM is set (the shadow modes).  Then the guest
 * cannot have written satp since it entered V=1, so QEMU's `vsatp`, the
 * value Umbra left there, is still the one in use. */
static uint64_t read_stage1_atp(struct hart *h)
{
    uint64_t satp;
    if (try_read_reg(h, reg_satp, &satp) || !h->virt)
        return satp;
    return read_reg(h, reg_vsatp);
}

/* Adds n to a counter in the whole-run scope and, inside a workload
 * window, in the window scope too. */
#define COUNT(h, field, n)                                          \
    do {                                                            \
        (h)->c[SCOPE_ALL][(h)->mode].field += (n);                  \
        if ((h)->in_window)                                         \
            (h)->c[SCOPE_WINDOW][(h)->mode].field += (n);           \
    } while (0)

/* ---- translation context ---- */

static enum mode mode_of(unsigned priv, bool virt)
{
    if (priv == 3)
        return MODE_M;
    if (virt)
        return priv ? MODE_VS : MODE_VU;
    return priv ? MODE_S : MODE_U;
}

static struct walk_stage stage_of(uint64_t atp, bool gstage)
{
    struct walk_stage s;
    s.levels = walk_levels_of_mode((unsigned)(atp >> 60));
    s.root = (atp & ((1ull << 44) - 1)) << 12;
    s.gstage = gstage;
    if (gstage)
        s.root &= ~0x3fffull;   /* the x4 root is 16 KiB aligned */
    return s;
}

static void refresh_context(struct hart *h)
{
    uint64_t priv = read_reg(h, reg_priv);
    h->virt = (priv >> 2) & 1;  /* the gdb `priv` register: PRV in bits 1:0, V in bit 2 */
    h->mode = mode_of(priv & 3, h->virt);
    h->xlate = XLATE_NONE;
    if (h->mode == MODE_M)
        return;
    uint64_t satp = read_stage1_atp(h);
    h->s1 = stage_of(satp, false);
    h->tag.virt = h->virt;
    h->tag.asid = (uint16_t)(satp >> 44);
    h->tag.vmid = 0;
    h->g.levels = 0;
    if (h->virt) {
        uint64_t hgatp = read_reg(h, reg_hgatp);
        h->g = stage_of(hgatp, true);
        h->tag.vmid = (uint16_t)((hgatp >> 44) & 0x3fff);
    }
    if (h->g.levels)
        h->xlate = XLATE_2D;
    else if (h->s1.levels)
        h->xlate = XLATE_1D;
}

/* ---- lookups and walks ---- */

#define NO_PA (~0ull)

static void count_miss_size(struct hart *h, unsigned shift)
{
    if (shift == 12)
        COUNT(h, misses_4k, 1);
    else if (shift == 21)
        COUNT(h, misses_2m, 1);
    else
        COUNT(h, misses_1g, 1);
}

static void walk_and_fill(struct hart *h, struct tlb *l1, uint64_t va, uint64_t pa_seen)
{
    struct walk_result r = h->xlate == XLATE_2D ? walk_two(&h->mem, h->s1, h->g, va)
                                                 : walk_one(&h->mem, h->s1, va);
    COUNT(h, tlb_misses, 1);
    COUNT(h, walk_refs, r.refs);
    COUNT(h, pwc_hits, r.pwc_hits);
    if (h->xlate == XLATE_2D)
        COUNT(h, walks_2d, 1);
    if (!r.ok) {
        COUNT(h, walk_faults, 1);
        return;
    }
    if (pa_seen != NO_PA && r.pa != pa_seen)
        COUNT(h, walk_mismatches, 1);
    count_miss_size(h, r.shift);
    tlb_insert(&h->l2, va, r.shift, h->tag, r.global);
    tlb_insert(l1, va, r.shift, h->tag, r.global);
}

static void translate(struct hart *h, bool fetch, uint64_t va, uint64_t pa_seen)
{
    struct tlb *l1 = fetch ? &h->l1i : &h->l1d;
    if (fetch)
        COUNT(h, fetch_lookups, 1);
    else
        COUNT(h, data_lookups, 1);
    if (tlb_lookup(l1, va, h->tag, NULL))
        return;
    if (fetch)
        COUNT(h, l1i_misses, 1);
    else
        COUNT(h, l1d_misses, 1);
    struct tlb_hit hit;
    if (tlb_lookup(&h->l2, va, h->tag, &hit)) {
        tlb_insert(l1, va, hit.shift, h->tag, hit.global);
        return;
    }
    walk_and_fill(h, l1, va, pa_seen);
}

/* ---- execution callbacks ---- */

static void on_block(unsigned vcpu, void *udata)
{
    struct hart *h = &harts[vcpu];
    uint64_t info = (uint64_t)(uintptr_t)udata;
    refresh_context(h);
    COUNT(h, blocks, 1);
    COUNT(h, insns, info & 0xfff);
    if (h->xlate != XLATE_NONE)
        translate(h, true, info & ~0xfffull, NO_PA);
}

static void on_fetch_page(unsigned vcpu, void *udata)
{
    struct hart *h = &harts[vcpu];
    if (h->xlate != XLATE_NONE)
        translate(h, true, (uint64_t)(uintptr_t)udata, NO_PA);
}

/* udata: nonzero for an AMO/LR/SC, whose reported value is the one loaded,
 * not the one stored: the mirror skips those (see docs). */
static void on_mem(unsigned vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    struct hart *h = &harts[vcpu];
    uint64_t pa = NO_PA;
    struct qemu_plugin_hwaddr *hw = qemu_plugin_get_hwaddr(info, vaddr);
    if (hw && !qemu_plugin_hwaddr_is_io(hw))
        pa = qemu_plugin_hwaddr_phys_addr(hw);
    if (pa != NO_PA && qemu_plugin_mem_is_store(info) && !udata)
        mirror_store(pa, qemu_plugin_mem_get_value(info), 1u << qemu_plugin_mem_size_shift(info));
    if (h->xlate != XLATE_NONE)
        translate(h, false, vaddr, pa);
}

enum fence_kind { FENCE_SFENCE_VMA, FENCE_HFENCE_VVMA, FENCE_HFENCE_GVMA };

static bool fence_traps(struct hart *h, enum fence_kind kind)
{
    if (h->mode == MODE_U || h->mode == MODE_VU)
        return true;
    if (h->virt)    /* hfence.* always; sfence.vma when Umbra set hstatus.VTVM */
        return kind != FENCE_SFENCE_VMA || ((read_reg(h, reg_hstatus) >> 20) & 1);
    return false;
}

static void on_fence(unsigned vcpu, void *udata)
{
    struct hart *h = &harts[vcpu];
    uint64_t code = (uint64_t)(uintptr_t)udata;
    enum fence_kind kind = (enum fence_kind)(code & 0xff);
    unsigned rs1 = (code >> 8) & 31, rs2 = (code >> 16) & 31;
    if (fence_traps(h, kind))
        return;
    struct tlb_flush f = { 0 };
    f.by_va = rs1 != 0;
    f.va = rs1 ? read_reg(h, gpr[rs1]) : 0;
    uint64_t op2 = rs2 ? read_reg(h, gpr[rs2]) : 0;
    if (kind == FENCE_SFENCE_VMA) {
        /* From VS-mode it flushes the running VM's VS-stage entries. */
        f.virt = h->virt;
        f.vmid = h->tag.vmid;
        f.by_asid = rs2 != 0;
        f.asid = (uint16_t)op2;
    } else if (kind == FENCE_HFENCE_VVMA) {
        f.virt = true;
        f.vmid = (uint16_t)((read_reg(h, reg_hgatp) >> 44) & 0x3fff);
        f.by_asid = rs2 != 0;
        f.asid = (uint16_t)op2;
    } else {
        /* Combined entries do not keep their GPA, so a G-stage fence for one
         * address drops all of the VMID's entries (a superset, as allowed). */
        f.virt = true;
        f.any_vmid = rs2 == 0;
        f.vmid = (uint16_t)op2;
        f.by_va = false;
    }
    unsigned gone = tlb_flush(&h->l1i, &f) + tlb_flush(&h->l1d, &f) + tlb_flush(&h->l2, &f);
    /* The walk cache is not tagged: any fence empties it. */
    tlb_flush_all(&h->pwc);
    COUNT(h, flushes, 1);
    COUNT(h, flushed_entries, gone);
}

/* rdinstret (csrrs rd, instret, x0) by the guest opens or closes a window. */
static void on_instret_read(unsigned vcpu, void *udata)
{
    (void)udata;
    struct hart *h = &harts[vcpu];
    bool guest = cfg.guest_native ? (!h->virt && h->mode != MODE_M) : h->virt;
    if (!guest)
        return;
    h->in_window = !h->in_window;
    h->windows += h->in_window;
}

/* ---- translation-time instrumentation ---- */

static uint32_t insn_word(const struct qemu_plugin_insn *insn)
{
    uint32_t w = 0;
    qemu_plugin_insn_data(insn, &w, qemu_plugin_insn_size(insn) < 4 ? 2 : 4);
    return w;
}

/* sfence.vma / hfence.vvma / hfence.gvma: SYSTEM opcode, funct3 0, rd 0,
 * funct7 0001001 / 0010001 / 0110001. */
static int fence_kind_of(uint32_t w)
{
    if ((w & 0x7fff) != 0x73)
        return -1;
    switch (w >> 25) {
    case 0x09: return FENCE_SFENCE_VMA;
    case 0x11: return FENCE_HFENCE_VVMA;
    case 0x31: return FENCE_HFENCE_GVMA;
    default: return -1;
    }
}

static bool is_instret_read(uint32_t w)
{
    /* csrrs rd, 0xc02, x0 with rd != 0 (rdinstret) */
    return (w & 0xfffff07f) == 0xc0202073 && ((w >> 7) & 31);
}

static bool is_atomic(uint32_t w, size_t size)
{
    return size == 4 && (w & 0x7f) == 0x2f;
}

static void instrument_insn(struct qemu_plugin_insn *insn, size_t idx, uint64_t *page)
{
    uint64_t va = qemu_plugin_insn_vaddr(insn);
    size_t size = qemu_plugin_insn_size(insn);
    uint32_t w = insn_word(insn);
    if (idx > 0 && (va >> 12) != *page)
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_fetch_page, QEMU_PLUGIN_CB_NO_REGS,
                                               (void *)(uintptr_t)(va & ~0xfffull));
    *page = va >> 12;
    qemu_plugin_register_vcpu_mem_cb(insn, on_mem, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW,
                                     (void *)(uintptr_t)is_atomic(w, size));
    int kind = size == 4 ? fence_kind_of(w) : -1;
    if (kind >= 0) {
        uint64_t code = (uint64_t)kind | ((w >> 15) & 31) << 8 | ((w >> 20) & 31) << 16;
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_fence, QEMU_PLUGIN_CB_R_REGS,
                                               (void *)(uintptr_t)code);
    }
    if (size == 4 && is_instret_read(w))
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_instret_read, QEMU_PLUGIN_CB_NO_REGS, NULL);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t page = qemu_plugin_tb_vaddr(tb) >> 12;
    /* udata: the block's page and its instruction count (< 4096) in one word. */
    uint64_t info = (page << 12) | (n & 0xfff);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_R_REGS, (void *)(uintptr_t)info);
    for (size_t i = 0; i < n; i++)
        instrument_insn(qemu_plugin_tb_get_insn(tb, i), i, &page);
}

/* ---- set-up and report ---- */

static struct qemu_plugin_register *find_register(GArray *regs, const char *name)
{
    qemu_plugin_reg_descriptor *d = (qemu_plugin_reg_descriptor *)regs->data;
    for (unsigned i = 0; i < regs->len; i++)
        if (!strcmp(d[i].name, name))
            return d[i].handle;
    fprintf(stderr, "tlbsim: QEMU has no register '%s'\n", name);
    exit(1);
}

static void on_vcpu_init(qemu_plugin_id_t id, unsigned vcpu)
{
    (void)id;
    static const char *const gpr_names[32] = {
        "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
        "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6" };
    GArray *regs = qemu_plugin_get_registers();
    for (unsigned i = 1; i < 32; i++)
        gpr[i] = find_register(regs, gpr_names[i]);
    reg_priv = find_register(regs, "priv");
    reg_satp = find_register(regs, "satp");
    reg_vsatp = find_register(regs, "vsatp");
    reg_hgatp = find_register(regs, "hgatp");
    reg_hstatus = find_register(regs, "hstatus");
    g_array_free(regs, 1);
    if (vcpu < nharts)
        harts[vcpu].buf = g_byte_array_new();
}

static void write_row(FILE *f, unsigned hart, enum scope s, enum mode m, const struct counts *c)
{
    fprintf(f, "%u,%s,%s,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu\n",
            hart, scope_names[s], mode_names[m], (unsigned long long)c->blocks,
            (unsigned long long)c->insns, (unsigned long long)c->fetch_lookups,
            (unsigned long long)c->data_lookups, (unsigned long long)c->l1i_misses,
            (unsigned long long)c->l1d_misses, (unsigned long long)c->tlb_misses,
            (unsigned long long)c->walk_refs, (unsigned long long)c->pwc_hits,
            (unsigned long long)c->walks_2d, (unsigned long long)c->walk_faults,
            (unsigned long long)c->walk_mismatches, (unsigned long long)c->misses_4k,
            (unsigned long long)c->misses_2m, (unsigned long long)c->misses_1g,
            (unsigned long long)c->flushes, (unsigned long long)c->flushed_entries);
}

static void on_exit_report(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    FILE *f = cfg.out ? fopen(cfg.out, "w") : stderr;
    if (!f) {
        perror(cfg.out);
        return;
    }
    fprintf(f, "# tlbsim itlb=%u dtlb=%u l2=%u pwc=%u\n", cfg.itlb, cfg.dtlb, cfg.l2, cfg.pwc);
    fprintf(f, "hart,scope,mode,blocks,insns,fetch_lookups,data_lookups,l1i_misses,l1d_misses,"
               "tlb_misses,walk_refs,pwc_hits,walks_2d,walk_faults,walk_mismatches,"
               "misses_4k,misses_2m,misses_1g,flushes,flushed_entries\n");
    for (unsigned h = 0; h < nharts; h++)
        for (unsigned s = 0; s < SCOPES; s++)
            for (unsigned m = 0; m < MODES; m++)
                write_row(f, h, s, m, &harts[h].c[s][m]);
    for (unsigned h = 0; h < nharts; h++)
        fprintf(f, "# hart %u windows %u\n", h, harts[h].windows);
    if (f != stderr)
        fclose(f);
}

static bool parse_arg(const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return false;
    size_t klen = (size_t)(eq - arg);
    const char *v = eq + 1;
    unsigned *num = NULL;
    if (!strncmp(arg, "out", klen) && klen == 3) {
        cfg.out = v;
        return true;
    }
    if (!strncmp(arg, "guest", klen) && klen == 5) {
        cfg.guest_native = !strcmp(v, "native");
        return cfg.guest_native || !strcmp(v, "virt");
    }
    if (klen == 4 && !strncmp(arg, "itlb", 4))
        num = &cfg.itlb;
    else if (klen == 4 && !strncmp(arg, "dtlb", 4))
        num = &cfg.dtlb;
    else if (klen == 2 && !strncmp(arg, "l2", 2))
        num = &cfg.l2;
    else if (klen == 3 && !strncmp(arg, "pwc", 3))
        num = &cfg.pwc;
    if (!num)
        return false;
    char *end;
    unsigned long n = strtoul(v, &end, 0);
    if (*end || n > (1u << 20))
        return false;
    *num = (unsigned)n;
    return true;
}

static bool init_hart(struct hart *h)
{
    memset(h, 0, sizeof(*h));
    h->mem.read = mirror_read;
    h->mem.pwc = cfg.pwc ? &h->pwc : NULL;
    return tlb_init(&h->l1i, cfg.itlb) && tlb_init(&h->l1d, cfg.dtlb) && tlb_init(&h->l2, cfg.l2) &&
           tlb_init(&h->pwc, cfg.pwc);
}

TLBSIM_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (!parse_arg(argv[i])) {
            fprintf(stderr, "tlbsim: bad argument '%s' (out=FILE itlb=N dtlb=N l2=N pwc=N "
                            "guest=virt|native)\n", argv[i]);
            return -1;
        }
    }
    if (!info->system_emulation || strcmp(info->target_name, "riscv64")) {
        fprintf(stderr, "tlbsim: needs qemu-system-riscv64\n");
        return -1;
    }
    mirror = mmap(NULL, MIRROR_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                  -1, 0);
    nharts = (unsigned)info->system.max_vcpus;
    harts = calloc(nharts, sizeof(*harts));
    if (mirror == MAP_FAILED || !harts)
        return -1;
    for (unsigned i = 0; i < nharts; i++)
        if (!init_hart(&harts[i]))
            return -1;
    qemu_plugin_register_vcpu_init_cb(id, on_vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit_report, NULL);
    return 0;
}
