/*
 * config.c — parser for the run-time configuration text (format in config.h).
 *
 * The text comes from tools/umbra-run, but Umbra must not trust it blindly:
 * a wrong size here would make Umbra copy an image over another VM or over
 * itself.  So every value is range-checked, and each error names its line.
 * The parser works on (pointer, length) slices of the text and never writes
 * to it; it uses nothing beyond core/lib/base.h and core/lib/fmt.h.
 */
#include "core/portable/config.h"
#include "core/lib/fmt.h"
#include "core/portable/stats.h"

#define CONFIG_DEFAULT_MEM MIB(128)
#define CONFIG_MEM_ALIGN MIB(2)
/* The guest kernel sits 2 MiB into guest RAM (GPA 0x8020_0000), as on bare
 * QEMU; kernel and initrd must fit in what lies above it. */
#define CONFIG_KERNEL_OFFSET MIB(2)

/* A piece of the text: not NUL-terminated. */
struct slice {
    const char *s;
    size_t n;
};

struct parser {
    struct umbra_config *cfg;
    unsigned line;                        /* 1-based number of the current line */
    unsigned vm_line[CONFIG_MAX_VMS];     /* line of each VM's vm=, for late errors */
    bool have_staging;
    char *err;
    size_t errlen;
};

const char *mm_mode_name(enum mm_mode mode)
{
    switch (mode) {
    case MM_MODE_HAP: return "hap";
    case MM_MODE_TSP: return "tsp";
    case MM_MODE_SSP: return "ssp";
    }
    return "?";
}

/* ---- error reporting ---------------------------------------------------- */

static int parser_fail(struct parser *p, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write "config line N: <message>" and return -1, so callers can
 * `return parser_fail(...)`. */
static int parser_fail(struct parser *p, unsigned line, const char *fmt, ...)
{
    if (p->errlen == 0)
        return -1;
    int n = fmt_snprintf(p->err, p->errlen, "config line %u: ", line);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        fmt_vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Copy a slice into a bounded C string for quoting it in a message; long
 * values are cut and marked with "...". */
static const char *slice_quote(char *buf, size_t cap, struct slice v)
{
    size_t n = MIN(v.n, cap - 1);
    memcpy(buf, v.s, n);
    buf[n] = '\0';
    if (v.n > cap - 1 && cap > 4)
        memcpy(buf + cap - 4, "...", 4);
    return buf;
}

/* ---- value parsing -------------------------------------------------------- */

static bool slice_equals(struct slice v, const char *word)
{
    size_t n = strlen(word);
    return v.n == n && memcmp(v.s, word, n) == 0;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;   /* larger than any base: rejected by the caller */
}

/* Decimal, or hex with a 0x/0X prefix; the whole slice must be the number
 * and it must fit in 64 bits. */
static bool parse_u64(struct slice v, uint64_t *out)
{
    unsigned base = 10;
    if (v.n > 2 && v.s[0] == '0' && (v.s[1] == 'x' || v.s[1] == 'X')) {
        base = 16;
        v.s += 2;
        v.n -= 2;
    }
    if (v.n == 0)
        return false;
    uint64_t value = 0;
    for (size_t i = 0; i < v.n; i++) {
        int d = digit_value(v.s[i]);
        if (d >= (int)base)
            return false;
        if (value > (UINT64_MAX - (uint64_t)d) / base)
            return false;
        value = value * base + (uint64_t)d;
    }
    *out = value;
    return true;
}

/* Split at the first `sep`; false if there is none. */
static bool slice_split(struct slice v, char sep, struct slice *head, struct slice *tail)
{
    for (size_t i = 0; i < v.n; i++) {
        if (v.s[i] == sep) {
            *head = (struct slice){ v.s, i };
            *tail = (struct slice){ v.s + i + 1, v.n - i - 1 };
            return true;
        }
    }
    return false;
}

static bool name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static bool name_ok(struct slice v)
{
    if (v.n == 0 || v.n >= CONFIG_NAME_MAX)
        return false;
    for (size_t i = 0; i < v.n; i++)
        if (!name_char_ok(v.s[i]))
            return false;
    return true;
}

/* ---- global keys ---------------------------------------------------------- */

static int set_staging(struct parser *p, struct slice v)
{
    char q[32];
    if (!parse_u64(v, &p->cfg->staging))
        return parser_fail(p, p->line, "bad number '%s' for staging", slice_quote(q, sizeof(q), v));
    p->have_staging = true;
    return 0;
}

/* trace=a,b,... ORs each named flag into the mask; repeating the key adds. */
static int add_trace(struct parser *p, struct slice v)
{
    char q[32];
    struct slice item, rest;
    for (;;) {
        bool more = slice_split(v, ',', &item, &rest);
        if (!more)
            item = v;
        if (slice_equals(item, "mm"))
            p->cfg->trace |= CONFIG_TRACE_MM;
        else
            return parser_fail(p, p->line, "unknown trace flag '%s' (known: mm)",
                               slice_quote(q, sizeof(q), item));
        if (!more)
            return 0;
        v = rest;
    }
}

static int set_monitor(struct parser *p, struct slice v)
{
    char q[32];
    if (!slice_equals(v, "0") && !slice_equals(v, "1"))
        return parser_fail(p, p->line, "monitor=%s: want 0 or 1", slice_quote(q, sizeof(q), v));
    p->cfg->monitor = slice_equals(v, "1");
    return 0;
}

static int cause_by_name(struct slice name)
{
    for (int c = 0; c < EXIT_CAUSE_COUNT; c++)
        if (slice_equals(name, exit_cause_name((enum exit_cause)c)))
            return c;
    return -1;
}

/* ptdump=end, or ptdump=CAUSE:N (the Nth exit of that cause on a vCPU). */
static int add_ptdump(struct parser *p, struct slice v)
{
    char q[40];
    struct umbra_config *cfg = p->cfg;
    struct slice name, count;
    struct ptdump_trigger t = { CONFIG_PTDUMP_AT_END, 0 };
    if (cfg->nptdumps == CONFIG_MAX_PTDUMPS)
        return parser_fail(p, p->line, "more than %d ptdump= triggers", CONFIG_MAX_PTDUMPS);
    if (!slice_equals(v, "end")) {
        if (!slice_split(v, ':', &name, &count) || !parse_u64(count, &t.nth) || t.nth == 0)
            return parser_fail(p, p->line, "ptdump=%s: want end or CAUSE:N with N >= 1",
                               slice_quote(q, sizeof(q), v));
        t.cause = cause_by_name(name);
        if (t.cause < 0)
            return parser_fail(p, p->line, "ptdump=%s: unknown exit cause (docs/exit-report.md)",
                               slice_quote(q, sizeof(q), v));
    }
    cfg->ptdumps[cfg->nptdumps++] = t;
    return 0;
}

/* ---- per-VM keys ---------------------------------------------------------- */

static struct vm_config *current_vm(struct parser *p)
{
    return &p->cfg->vms[p->cfg->nvms - 1];
}

static void vm_set_defaults(struct vm_config *vm)
{
    memset(vm, 0, sizeof(*vm));
    vm->mode = MM_MODE_HAP;
    vm->mem = CONFIG_DEFAULT_MEM;
    vm->cpus = 1;
    vm->sptbuf = CONFIG_DEFAULT_SPTBUF;
}

static int start_vm(struct parser *p, struct slice v)
{
    struct umbra_config *cfg = p->cfg;
    char q[32];
    if (!p->have_staging)
        return parser_fail(p, p->line, "staging= must come before the first vm=");
    if (!name_ok(v))
        return parser_fail(p, p->line, "invalid VM name '%s' (1-%d chars of A-Z a-z 0-9 _ -)",
                           slice_quote(q, sizeof(q), v), CONFIG_NAME_MAX - 1);
    for (unsigned i = 0; i < cfg->nvms; i++)
        if (slice_equals(v, cfg->vms[i].name))
            return parser_fail(p, p->line, "duplicate VM name '%s' (first on line %u)",
                               cfg->vms[i].name, p->vm_line[i]);
    if (cfg->nvms == CONFIG_MAX_VMS)
        return parser_fail(p, p->line, "more than %d VMs", CONFIG_MAX_VMS);
    struct vm_config *vm = &cfg->vms[cfg->nvms];
    p->vm_line[cfg->nvms] = p->line;
    cfg->nvms++;
    vm_set_defaults(vm);
    memcpy(vm->name, v.s, v.n);
    return 0;
}

static int set_mode(struct parser *p, struct slice v)
{
    static const enum mm_mode modes[] = { MM_MODE_HAP, MM_MODE_TSP, MM_MODE_SSP };
    char q[32];
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
        if (slice_equals(v, mm_mode_name(modes[i]))) {
            current_vm(p)->mode = modes[i];
            return 0;
        }
    }
    return parser_fail(p, p->line, "unknown mode '%s' (hap, tsp or ssp)", slice_quote(q, sizeof(q), v));
}

const char *viommu_mode_name(enum viommu_mode mode)
{
    switch (mode) {
    case VIOMMU_OFF:    return "off";
    case VIOMMU_SHADOW: return "shadow";
    case VIOMMU_NESTED: return "nested";
    case VIOMMU_SIDECORE: return "sidecore";
    }
    return "?";
}

static int set_viommu(struct parser *p, struct slice v)
{
    static const enum viommu_mode modes[] = { VIOMMU_SHADOW, VIOMMU_NESTED, VIOMMU_SIDECORE };
    char q[32];
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
        if (slice_equals(v, viommu_mode_name(modes[i]))) {
            current_vm(p)->viommu = modes[i];
            return 0;
        }
    }
    return parser_fail(p, p->line, "unknown viommu '%s' (shadow, nested or sidecore)", slice_quote(q, sizeof(q), v));
}

const char *share_mode_name(enum share_mode mode)
{
    switch (mode) {
    case SHARE_SWITCH:  return "switch";
    case SHARE_REWRITE: return "rewrite";
    }
    return "?";
}

static int set_share_mode(struct parser *p, struct slice v)
{
    char q[32];
    for (enum share_mode m = SHARE_SWITCH; m <= SHARE_REWRITE; m++) {
        if (slice_equals(v, share_mode_name(m))) {
            current_vm(p)->share_mode = m;
            return 0;
        }
    }
    return parser_fail(p, p->line, "unknown share_mode '%s' (switch or rewrite)", slice_quote(q, sizeof(q), v));
}

/* v as one of names[0..n), into *out; a clear error naming the choices otherwise. */
static int set_named(struct parser *p, struct slice v, const char *key, const char *const *names, unsigned n,
                     unsigned *out)
{
    char q[32], choices[64] = "";
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        if (slice_equals(v, names[i])) {
            *out = i;
            return 0;
        }
        len += (size_t)fmt_snprintf(choices + len, sizeof(choices) - len, "%s%s", i ? (i + 1 == n ? " or " : ", ") : "",
                            names[i]);
    }
    return parser_fail(p, p->line, "unknown %s '%s' (%s)", key, slice_quote(q, sizeof(q), v), choices);
}

static const char *const mem_backing_names[] = { "eager", "lazy" };
static const char *const dma_pinning_names[] = { "static", "viommu", "coiommu" };

const char *mem_backing_name(enum mem_backing b)
{
    return (unsigned)b < ARRAY_SIZE(mem_backing_names) ? mem_backing_names[b] : "?";
}

const char *dma_pinning_name(enum dma_pinning pin)
{
    return (unsigned)pin < ARRAY_SIZE(dma_pinning_names) ? dma_pinning_names[pin] : "?";
}

static int set_mem_backing(struct parser *p, struct slice v)
{
    unsigned i;
    int rc = set_named(p, v, "mem_backing", mem_backing_names, ARRAY_SIZE(mem_backing_names), &i);
    if (rc == 0)
        current_vm(p)->mem_backing = (enum mem_backing)i;
    return rc;
}

static int set_dma_pinning(struct parser *p, struct slice v)
{
    unsigned i;
    int rc = set_named(p, v, "dma_pinning", dma_pinning_names, ARRAY_SIZE(dma_pinning_names), &i);
    if (rc == 0)
        current_vm(p)->dma_pinning = (enum dma_pinning)i;
    return rc;
}

/* reclaim=MS: up to a minute (a longer period is as good as never). */
static int set_reclaim(struct parser *p, struct slice v)
{
    char q[32];
    uint64_t ms;
    if (!parse_u64(v, &ms) || ms > 60000)
        return parser_fail(p, p->line, "reclaim must be a period of 0 to 60000 ms, not '%s'",
                           slice_quote(q, sizeof(q), v));
    current_vm(p)->reclaim_ms = (uint32_t)ms;
    return 0;
}

bool config_ram_paged(const struct vm_config *vm)
{
    return vm->mem_backing == MEM_BACKING_LAZY || vm->reclaim_ms || vm->dma_pinning != DMA_PINNING_STATIC;
}

static int set_mem(struct parser *p, struct slice v)
{
    char q[32];
    uint64_t mem;
    if (!parse_u64(v, &mem))
        return parser_fail(p, p->line, "bad number '%s' for mem", slice_quote(q, sizeof(q), v));
    if (mem < CONFIG_MEM_ALIGN || !IS_ALIGNED(mem, CONFIG_MEM_ALIGN))
        return parser_fail(p, p->line, "mem 0x%llx is not a non-zero multiple of 2 MiB",
                           (unsigned long long)mem);
    current_vm(p)->mem = mem;
    return 0;
}

static int set_cpus(struct parser *p, struct slice v)
{
    char q[32];
    uint64_t cpus;
    if (!parse_u64(v, &cpus))
        return parser_fail(p, p->line, "bad number '%s' for cpus", slice_quote(q, sizeof(q), v));
    if (cpus == 0 || cpus > CONFIG_MAX_CPUS)
        return parser_fail(p, p->line, "cpus must be 1 to %d, not %llu", CONFIG_MAX_CPUS,
                           (unsigned long long)cpus);
    current_vm(p)->cpus = (unsigned)cpus;
    return 0;
}

static int set_sptbuf(struct parser *p, struct slice v)
{
    char q[32];
    uint64_t n;
    if (!parse_u64(v, &n))
        return parser_fail(p, p->line, "bad number '%s' for sptbuf", slice_quote(q, sizeof(q), v));
    if (n > CONFIG_MAX_SPTBUF)
        return parser_fail(p, p->line, "sptbuf must be 0 to %d, not %llu", CONFIG_MAX_SPTBUF,
                           (unsigned long long)n);
    current_vm(p)->sptbuf = (unsigned)n;
    return 0;
}

/* shadow_pool=BYTES: whole pages, at least 64 KiB (a few shadow tables). */
static int set_shadow_pool(struct parser *p, struct slice v)
{
    char q[32];
    uint64_t bytes;
    if (!parse_u64(v, &bytes))
        return parser_fail(p, p->line, "bad number '%s' for shadow_pool", slice_quote(q, sizeof(q), v));
    if (bytes < KIB(64) || !IS_ALIGNED(bytes, PAGE_SIZE))
        return parser_fail(p, p->line, "shadow_pool 0x%llx is not a multiple of 4 KiB of at least 64 KiB",
                           (unsigned long long)bytes);
    current_vm(p)->shadow_pool = bytes;
    return 0;
}

/* kernel= / initrd=: "ADDR,SIZE", both numbers, the range inside the staging
 * area's address space (at or above staging, no wrap-around). */
static int set_image(struct parser *p, struct slice v, const char *what, struct image_ref *img)
{
    char q[48];
    struct slice addr_s, size_s;
    uint64_t addr, size;
    if (!slice_split(v, ',', &addr_s, &size_s) || !parse_u64(addr_s, &addr) ||
        !parse_u64(size_s, &size))
        return parser_fail(p, p->line, "bad %s '%s' (want 0xADDR,0xSIZE)", what,
                           slice_quote(q, sizeof(q), v));
    if (addr < p->cfg->staging || size > UINT64_MAX - addr)
        return parser_fail(p, p->line, "%s at 0x%llx size 0x%llx is outside the staging area", what,
                           (unsigned long long)addr, (unsigned long long)size);
    img->addr = addr;
    img->size = size;
    return 0;
}

static int set_kernel(struct parser *p, struct slice v)
{
    struct vm_config *vm = current_vm(p);
    if (set_image(p, v, "kernel", &vm->kernel) < 0)
        return -1;
    if (vm->kernel.size == 0)
        return parser_fail(p, p->line, "kernel size is 0");
    return 0;
}

static int set_initrd(struct parser *p, struct slice v)
{
    return set_image(p, v, "initrd", &current_vm(p)->initrd);
}

static int set_append(struct parser *p, struct slice v)
{
    if (v.n >= CONFIG_APPEND_MAX)
        return parser_fail(p, p->line, "append is %zu chars, at most %d allowed", v.n,
                           CONFIG_APPEND_MAX - 1);
    struct vm_config *vm = current_vm(p);
    memcpy(vm->append, v.s, v.n);
    vm->append[v.n] = '\0';
    return 0;
}

/* One field of a PCI address: 1 or 2 hex digits (as lspci writes them). */
static bool parse_pci_field(struct slice v, unsigned max, unsigned *out)
{
    if (v.n < 1 || v.n > 2)
        return false;
    unsigned n = 0;
    for (size_t i = 0; i < v.n; i++) {
        char c = v.s[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d > 15)
            return false;
        n = n * 16 + d;
    }
    *out = n;
    return n <= max;
}

/* "BB:DD.F" -> bus[15:8] dev[7:3] fn[2:0], the layout of core/lib/pci.h. */
static bool parse_pci_address(struct slice v, uint16_t *bdf)
{
    struct slice bus_s, rest, dev_s, fn_s;
    unsigned bus, dev, fn;
    if (!slice_split(v, ':', &bus_s, &rest) || !slice_split(rest, '.', &dev_s, &fn_s) ||
        !parse_pci_field(bus_s, 0xff, &bus) || !parse_pci_field(dev_s, 0x1f, &dev) ||
        fn_s.n != 1 || !parse_pci_field(fn_s, 7, &fn))
        return false;
    *bdf = (uint16_t)(bus << 8 | dev << 3 | fn);
    return true;
}

/* The VM (index) that already has bdf, or -1; *shared says whether it
 * has it by share=. */
static int config_pci_owner(const struct umbra_config *cfg, uint16_t bdf, bool *shared)
{
    for (unsigned i = 0; i < cfg->nvms; i++)
        for (unsigned j = 0; j < cfg->vms[i].npci; j++)
            if (cfg->vms[i].pci[j] == bdf) {
                *shared = cfg->vms[i].share_mask & (1u << j);
                return (int)i;
            }
    return -1;
}

/* pci= (share false) or share= (true). */
static int add_function(struct parser *p, struct slice v, bool share)
{
    char q[32];
    uint16_t bdf;
    bool shared = false;
    struct vm_config *vm = current_vm(p);
    if (!parse_pci_address(v, &bdf))
        return parser_fail(p, p->line, "bad PCI address '%s' (want BB:DD.F in hex, e.g. 00:02.0)",
                           slice_quote(q, sizeof(q), v));
    int owner = config_pci_owner(p->cfg, bdf, &shared);
    bool own = owner >= 0 && &p->cfg->vms[owner] == vm;
    if (owner >= 0 && (!share || !shared || own))
        return parser_fail(p, p->line, "PCI function %s is already %s VM '%s'", slice_quote(q, sizeof(q), v),
                           shared ? "shared by" : "assigned to", p->cfg->vms[owner].name);
    if (share && vm->share_mask)
        return parser_fail(p, p->line, "a second share= for VM '%s' (at most one)", vm->name);
    if (vm->npci == CONFIG_MAX_PCI_PER_VM)
        return parser_fail(p, p->line, "more than %d PCI functions for VM '%s'",
                           CONFIG_MAX_PCI_PER_VM, vm->name);
    if (share)
        vm->share_mask |= 1u << vm->npci;
    vm->pci[vm->npci++] = bdf;
    return 0;
}

static int add_pci(struct parser *p, struct slice v)
{
    return add_function(p, v, false);
}

static int add_share(struct parser *p, struct slice v)
{
    return add_function(p, v, true);
}

/* ---- lines ---------------------------------------------------------------- */

struct key_handler {
    const char *key;
    int (*set)(struct parser *p, struct slice value);
};

static const struct key_handler global_keys[] = {
    { "staging", set_staging },
    { "trace", add_trace },
    { "monitor", set_monitor },
    { "ptdump", add_ptdump },
};

static const struct key_handler vm_keys[] = {
    { "mode", set_mode },   { "mem", set_mem },       { "cpus", set_cpus },
    { "kernel", set_kernel }, { "initrd", set_initrd }, { "append", set_append },
    { "sptbuf", set_sptbuf }, { "shadow_pool", set_shadow_pool }, { "pci", add_pci }, { "viommu", set_viommu },
    { "share", add_share }, { "share_mode", set_share_mode }, { "mem_backing", set_mem_backing },
    { "reclaim", set_reclaim }, { "dma_pinning", set_dma_pinning },
};

/* "vm", then the global keys, then the per-VM keys (config.h). */
const char *config_key_name(unsigned i)
{
    if (i == 0)
        return "vm";
    i--;
    if (i < ARRAY_SIZE(global_keys))
        return global_keys[i].key;
    i -= (unsigned)ARRAY_SIZE(global_keys);
    return i < ARRAY_SIZE(vm_keys) ? vm_keys[i].key : NULL;
}

static const struct key_handler *find_key(const struct key_handler *table, size_t n, struct slice key)
{
    for (size_t i = 0; i < n; i++)
        if (slice_equals(key, table[i].key))
            return &table[i];
    return NULL;
}

/* Global keys are only valid before the first vm=, per-VM keys only after
 * it; a key in the wrong section gets a message saying so rather than a
 * generic "unknown key". */
static int parse_key_value(struct parser *p, struct slice key, struct slice value)
{
    char q[32];
    bool in_vm = p->cfg->nvms > 0;
    if (slice_equals(key, "vm"))
        return start_vm(p, value);
    const struct key_handler *g = find_key(global_keys, ARRAY_SIZE(global_keys), key);
    const struct key_handler *v = find_key(vm_keys, ARRAY_SIZE(vm_keys), key);
    if (g && !in_vm)
        return g->set(p, value);
    if (v && in_vm)
        return v->set(p, value);
    if (g)
        return parser_fail(p, p->line, "%s= must come before the first vm=", g->key);
    if (v)
        return parser_fail(p, p->line, "%s= before any vm=", v->key);
    return parser_fail(p, p->line, "unknown key '%s'", slice_quote(q, sizeof(q), key));
}

static bool line_is_blank(struct slice line)
{
    for (size_t i = 0; i < line.n; i++)
        if (line.s[i] != ' ' && line.s[i] != '\t')
            return false;
    return true;
}

static int parse_line(struct parser *p, struct slice line)
{
    /* Tolerate CRLF line ends: a stray '\r' would otherwise end up in values. */
    if (line.n > 0 && line.s[line.n - 1] == '\r')
        line.n--;
    if (line_is_blank(line) || line.s[0] == '#')
        return 0;
    struct slice key, value;
    if (!slice_split(line, '=', &key, &value))
        return parser_fail(p, p->line, "expected key=value");
    return parse_key_value(p, key, value);
}

/* ---- whole-text checks ---------------------------------------------------- */

int config_shared_bdf(const struct vm_config *vm)
{
    for (unsigned i = 0; i < vm->npci; i++)
        if (vm->share_mask & (1u << i))
            return vm->pci[i];
    return -1;
}

static int check_vm(struct parser *p, unsigned index)
{
    const struct vm_config *vm = &p->cfg->vms[index];
    unsigned line = p->vm_line[index];
    if (vm->kernel.size == 0)
        return parser_fail(p, line, "VM '%s' has no kernel=", vm->name);
    if (vm->viommu != VIOMMU_OFF && vm->npci == 0)
        return parser_fail(p, line, "VM '%s' has viommu= but no pci= for it to translate", vm->name);
    if (vm->viommu != VIOMMU_OFF && vm->share_mask)
        return parser_fail(p, line, "VM '%s' has viommu= and share= (a shared device takes no vIOMMU)",
                           vm->name);
    if (vm->reclaim_ms && vm->viommu == VIOMMU_SIDECORE)
        return parser_fail(p, line, "VM '%s' has reclaim= and viommu=sidecore (the sidecore reads its "
                           "memory while reclaim holds its vCPUs)", vm->name);
    if (vm->dma_pinning != DMA_PINNING_STATIC && vm->npci == 0)
        return parser_fail(p, line, "VM '%s' has dma_pinning=%s but no pci= to pin for", vm->name,
                           dma_pinning_name(vm->dma_pinning));
    if (vm->dma_pinning == DMA_PINNING_VIOMMU && vm->viommu != VIOMMU_SHADOW)
        return parser_fail(p, line, "VM '%s' has dma_pinning=viommu without viommu=shadow (only the "
                           "shadowed IOVA tables say which pages a device may reach)", vm->name);
    if (vm->dma_pinning == DMA_PINNING_COIOMMU && vm->viommu != VIOMMU_OFF)
        return parser_fail(p, line, "VM '%s' has dma_pinning=coiommu and viommu= (coIOMMU tracks DMA "
                           "without remapping it)", vm->name);
    if (config_ram_paged(vm) && vm->share_mask)
        return parser_fail(p, line, "VM '%s' has share= and RAM kept page by page (mem_backing=lazy, "
                           "reclaim= or dma_pinning=): a shared device's tables map RAM as one block", vm->name);
    if (vm->share_mask)
        for (unsigned i = 0; i < index; i++)
            if (config_shared_bdf(&p->cfg->vms[i]) == config_shared_bdf(vm) &&
                p->cfg->vms[i].share_mode != vm->share_mode)
                return parser_fail(p, line, "VM '%s' shares %02x:%02x.%u with share_mode=%s, VM '%s' with %s",
                                   vm->name, config_shared_bdf(vm) >> 8, (config_shared_bdf(vm) >> 3) & 0x1f,
                                   config_shared_bdf(vm) & 7, share_mode_name(vm->share_mode), p->cfg->vms[i].name,
                                   share_mode_name(p->cfg->vms[i].share_mode));
    /* The kernel sits 2 MiB in and the guest's DTB takes the top 2 MiB. */
    uint64_t reserved = CONFIG_KERNEL_OFFSET + CONFIG_KERNEL_OFFSET;
    uint64_t room = vm->mem - MIN(vm->mem, reserved);
    if (vm->kernel.size > room || vm->initrd.size > room - vm->kernel.size)
        return parser_fail(p, line,
                           "VM '%s': kernel (0x%llx bytes) and initrd (0x%llx bytes) do not fit "
                           "in mem 0x%llx between the 2 MiB kernel offset and the 2 MiB DTB slot",
                           vm->name, (unsigned long long)vm->kernel.size,
                           (unsigned long long)vm->initrd.size, (unsigned long long)vm->mem);
    return 0;
}

static int check_config(struct parser *p)
{
    const struct umbra_config *cfg = p->cfg;
    unsigned total_cpus = 0;
    if (cfg->nvms == 0)
        return parser_fail(p, p->line, "no VMs (no vm= line)");
    for (unsigned i = 0; i < cfg->nvms; i++) {
        if (check_vm(p, i) < 0)
            return -1;
        total_cpus += cfg->vms[i].cpus;
        if (total_cpus > CONFIG_MAX_CPUS)
            return parser_fail(p, p->vm_line[i], "more than %d vCPUs over all VMs",
                               CONFIG_MAX_CPUS);
    }
    return 0;
}

int config_parse(const char *text, size_t len, struct umbra_config *out, char *err, size_t errlen)
{
    struct parser p = { .cfg = out, .err = err, .errlen = errlen };
    memset(out, 0, sizeof(*out));
    if (errlen > 0)
        err[0] = '\0';
    size_t pos = 0;
    while (pos < len && text[pos] != '\0') {
        size_t start = pos;
        while (pos < len && text[pos] != '\0' && text[pos] != '\n')
            pos++;
        p.line++;
        if (parse_line(&p, (struct slice){ text + start, pos - start }) < 0)
            return -1;
        if (pos < len && text[pos] == '\n')
            pos++;
    }
    if (p.line == 0)
        p.line = 1;   /* an empty text still reports "line 1" */
    return check_config(&p);
}
