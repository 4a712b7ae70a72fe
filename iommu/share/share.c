/*
 * share.c — a device shared by several VMs (see share.h): the real edu
 * behind the mediator (iommu/mediator/), the owner switches in the IOMMU,
 * address rewriting, and each sharer's trapped BAR.
 */
#include "iommu/share/share.h"
#include "arch/riscv/csr.h"
#include "core/console.h"
#include "core/lib/fmt.h"
#include "core/mmio.h"
#include "core/pool.h"
#include "core/portable/stats.h"
#include "core/spinlock.h"
#include "core/vm.h"
#include "iommu/driver/iommu.h"
#include "iommu/hostbridge/pci_host.h"
#include "iommu/mediator/mediator.h"
#include "iommu/passthrough/vpci.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
/* The edu masks every RAM address it is given with its dma_mask, which
 * umbra-run sets to 40 bits (and refuses to narrow for a shared one):
 * a host address must lie below, or the mask would move it. */
#define EDU_DMA_LIMIT (1ull << 40)

_Static_assert(CONFIG_MAX_VMS <= MEDIATOR_MAX_CLIENTS, "every VM may share one device");

struct share_client {
    struct vm *vm;
    uint64_t switch_commands;     /* IOMMU commands spent switching to it */
    uint64_t switch_instret;      /* Umbra instructions those switches took */
    uint64_t rewrites;            /* rewrite: its request addresses translated */
    uint64_t rewrite_instret;     /* and the Umbra instructions that took */
};

struct shared_dev {
    uint16_t bdf;
    enum share_mode mode;
    paddr_t regs;                 /* the real BAR0 */
    unsigned nclients;
    struct share_client clients[MEDIATOR_MAX_CLIENTS];
    struct mediator med;
    struct spinlock lock;
    struct pt table;              /* rewrite: every sharer's RAM, host = bus address */
    uint64_t table_pages;
};

static struct shared_dev shares[CONFIG_MAX_VMS];
static unsigned nshares;
static const struct mmio_ops share_bar_ops;

/* ---- lookups ------------------------------------------------------------- */

static struct shared_dev *share_of(uint16_t bdf)
{
    for (unsigned i = 0; i < nshares; i++)
        if (shares[i].bdf == bdf)
            return &shares[i];
    return NULL;
}

/* The VM's share and its client index there, or NULL. */
static struct shared_dev *client_of(const struct vm *vm, unsigned *client)
{
    int bdf = config_shared_bdf(vm->config);
    struct shared_dev *s = bdf >= 0 ? share_of((uint16_t)bdf) : NULL;
    for (unsigned i = 0; s && i < s->nclients; i++)
        if (s->clients[i].vm == vm) {
            *client = i;
            return s;
        }
    return NULL;
}

/* ---- the real device (mediator_ops) ------------------------------------- */

static bool edu_busy(void *ctx)
{
    const struct shared_dev *s = ctx;
    return *(volatile uint32_t *)pa_to_ptr(s->regs + EDU_REG_DMA_CMD) & EDU_DMA_RUN;
}

static void edu_dma(void *ctx, uint64_t src, uint64_t dst, uint64_t count, uint32_t cmd)
{
    const struct shared_dev *s = ctx;
    *(volatile uint64_t *)pa_to_ptr(s->regs + EDU_REG_DMA_SRC) = src;
    *(volatile uint64_t *)pa_to_ptr(s->regs + EDU_REG_DMA_DST) = dst;
    *(volatile uint64_t *)pa_to_ptr(s->regs + EDU_REG_DMA_COUNT) = count;
    /* The operands, and the mediator's owner (read by the fault path on
     * other harts), before the command. */
    __asm__ volatile("fence rw, o" ::: "memory");
    *(volatile uint64_t *)pa_to_ptr(s->regs + EDU_REG_DMA_CMD) = cmd;
}

/* Owner switching: the device context's second stage becomes the new
 * owner's table.  The faults its last owner's DMA raised are counted
 * first, while the owner still says whose they are. */
static void edu_set_owner(void *ctx, unsigned client)
{
    struct shared_dev *s = ctx;
    if (s->mode != SHARE_SWITCH)
        return;
    struct share_client *c = &s->clients[client];
    uint64_t start = instret_read();
    char err[96];
    vpci_poll_faults(true);
    if (iommu_switch_gstage(s->bdf, c->vm->vpci->dma.root, c->vm->vpci->gscid, &c->switch_commands, err,
                            sizeof(err)) != 0)
        panic("share: switching %02x:%02x.%u to vm %s: %s", pci_bdf_bus(s->bdf), pci_bdf_dev(s->bdf),
              pci_bdf_fn(s->bdf), c->vm->config->name, err);
    c->switch_instret += instret_read() - start;
}

static bool edu_ram_addr(void *ctx, unsigned client, uint64_t gpa, uint64_t len, uint64_t *bus)
{
    struct shared_dev *s = ctx;
    if (s->mode == SHARE_SWITCH) {
        *bus = gpa;
        return true;
    }
    struct share_client *c = &s->clients[client];
    uint64_t start = instret_read();
    paddr_t hpa = 0;
    bool ok = guest_mem_hpa(&c->vm->mem, gpa, MAX(len, 1), &hpa) && hpa + MAX(len, 1) <= EDU_DMA_LIMIT;
    c->rewrite_instret += instret_read() - start;
    c->rewrites++;
    *bus = hpa;
    return ok;
}

static uint64_t edu_save_addr(void *ctx, unsigned client)
{
    const struct shared_dev *s = ctx;
    return s->mode == SHARE_SWITCH ? SHARE_SAVE_GPA : s->clients[client].vm->vpci->share_save;
}

static const struct mediator_ops edu_ops = {
    .busy = edu_busy, .dma = edu_dma, .set_owner = edu_set_owner,
    .ram_addr = edu_ram_addr, .save_addr = edu_save_addr,
};

/* ---- set-up ---------------------------------------------------------------- */

int share_save_page_init(struct vm *vm, char *err, size_t errlen)
{
    paddr_t page = umbra_pool_alloc_page(&vm->frame_pages);
    if (!page) {
        fmt_snprintf(err, errlen, "vm %s: no memory for its shared device's save page", vm->config->name);
        return -1;
    }
    vm->vpci->share_save = page;
    if (vm->config->share_mode == SHARE_SWITCH &&
        pt_map(&vm->vpci->dma, SHARE_SAVE_GPA, page, PAGE_SIZE, IOMMU_GSTAGE_LEAF_PERM) != 0) {
        fmt_snprintf(err, errlen, "vm %s: cannot map its shared device's save page", vm->config->name);
        return -1;
    }
    return 0;
}

static int share_fail(char *err, size_t errlen, const struct shared_dev *s, const char *what)
{
    fmt_snprintf(err, errlen, "share=%02x:%02x.%u: %s", pci_bdf_bus(s->bdf), pci_bdf_dev(s->bdf),
                 pci_bdf_fn(s->bdf), what);
    return -1;
}

/* rewrite: one table where every sharer's RAM and save page sit at their
 * host addresses. */
static int rewrite_table_init(struct shared_dev *s, char *err, size_t errlen)
{
    paddr_t root = frame_alloc(&umbra_pool, KIB(16), KIB(16));
    if (!root)
        return share_fail(err, errlen, s, "no memory for its DMA table");
    pt_init(&s->table, PT_SV39X4, root, umbra_pool_alloc_page, &s->table_pages);
    for (unsigned i = 0; i < s->nclients; i++) {
        const struct vm *vm = s->clients[i].vm;
        for (unsigned r = 0; r < vm->mem.count; r++) {
            const struct guest_mem_region *g = &vm->mem.regions[r];
            if (g->kind != GUEST_MEM_CONTIGUOUS ||
                pt_map(&s->table, g->hpa, g->hpa, g->size, IOMMU_GSTAGE_LEAF_PERM) != 0)
                return share_fail(err, errlen, s, "cannot build its DMA table");
        }
        if (pt_map(&s->table, vm->vpci->share_save, vm->vpci->share_save, PAGE_SIZE, IOMMU_GSTAGE_LEAF_PERM) != 0)
            return share_fail(err, errlen, s, "cannot build its DMA table");
    }
    return 0;
}

/* switch: iommu_switch_gstage relies on every sharer's GSCID caching
 * nothing but its own table; make sure of it once, before any switch. */
static int share_flush_gscids(struct shared_dev *s, char *err, size_t errlen)
{
    char why[96];
    for (unsigned i = 0; i < s->nclients; i++) {
        struct vpci *v = s->clients[i].vm->vpci;
        struct iommu_cmd gvma = iommu_cmd_iotinval_gvma(v->gscid, IOMMU_ALL_ADDRS);
        if (iommu_run_counted(&gvma, &v->iommu_commands, why, sizeof(why)) != 0)
            return share_fail(err, errlen, s, why);
    }
    return 0;
}

static int share_attach(struct shared_dev *s, char *err, size_t errlen)
{
    char why[96];
    paddr_t root = s->clients[0].vm->vpci->dma.root;
    int gscid = s->clients[0].vm->vpci->gscid;
    if (s->mode == SHARE_SWITCH && share_flush_gscids(s, err, errlen) != 0)
        return -1;
    if (s->mode == SHARE_REWRITE) {
        if (rewrite_table_init(s, err, errlen) != 0)
            return -1;
        root = s->table.root;
        gscid = iommu_gscid(root);
        if (gscid < 0)
            return share_fail(err, errlen, s, "no GSCID left for its DMA table");
    }
    /* The first sharer's report counts them, as for a device of its own. */
    if (iommu_attach(s->bdf, root, (uint16_t)gscid, &s->clients[0].vm->vpci->iommu_commands, why,
                     sizeof(why)) != 0)
        return share_fail(err, errlen, s, why);
    return 0;
}

static int share_start(struct shared_dev *s, char *err, size_t errlen)
{
    const struct pci_vfunc *vf = vpci_vfunc(s->clients[0].vm, s->bdf);
    if (!vf || vf->id != ((uint32_t)EDU_DEVICE << 16 | EDU_VENDOR))
        return share_fail(err, errlen, s, "only an edu (1234:11e8) can be shared");
    if (vf->bar[0].size < PAGE_SIZE)
        return share_fail(err, errlen, s, "its BAR0 is missing");
    s->regs = vf->bar[0].host_addr;
    if (share_attach(s, err, errlen) != 0)
        return -1;
    mediator_init(&s->med, &edu_ops, s, s->nclients, s->mode == SHARE_SWITCH ? 0 : -1, s->mode == SHARE_REWRITE);
    for (unsigned i = 0; i < s->nclients; i++)
        if (mmio_register(s->clients[i].vm, VPCI_MEM_GPA, VPCI_MEM_SIZE, &share_bar_ops, s) != 0)
            return share_fail(err, errlen, s, "no room for its registers in a sharer's device registry");
    /* The real device always decodes and masters: which VM's DMA it makes
     * is the mediator's. */
    pci_cfg_write_command(&pci_host_ops, s->bdf,
                          PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    kprintf("umbra: pci %02x:%02x.%u shared by %u VM(s), share_mode %s, device context at %s\n",
            pci_bdf_bus(s->bdf), pci_bdf_dev(s->bdf), pci_bdf_fn(s->bdf), s->nclients,
            share_mode_name(s->mode), s->mode == SHARE_SWITCH ? "the first VM's table" : "all sharers' RAM");
    return 0;
}

int share_init(char *err, size_t errlen)
{
    for (unsigned i = 0; i < vm_count; i++) {
        int bdf = config_shared_bdf(vms[i].config);
        if (bdf < 0)
            continue;
        struct shared_dev *s = share_of((uint16_t)bdf);
        if (!s) {
            s = &shares[nshares++];
            s->bdf = (uint16_t)bdf;
            s->mode = vms[i].config->share_mode;
        }
        s->clients[s->nclients++].vm = &vms[i];
    }
    for (unsigned i = 0; i < nshares; i++)
        if (share_start(&shares[i], err, errlen) != 0)
            return -1;
    return 0;
}

/* ---- the sharers' accesses ------------------------------------------------- */

/* Where the VM's BAR0 of the shared device is now: its offset in the BAR
 * window, or false if an access at off is not to it (decoding off, or
 * another place in the window: nothing answers there, as on a bus). */
static bool bar_offset(const struct vm *vm, const struct shared_dev *s, uint64_t off, uint64_t *in_bar)
{
    const struct pci_vfunc *vf = vpci_vfunc(vm, s->bdf);
    if (!vf || !pci_vfunc_bar_live(vf, 0))
        return false;
    uint64_t base = vf->bar[0].guest_addr - VPCI_MEM_GPA;
    if (off < base || off - base >= vf->bar[0].size)
        return false;
    *in_bar = off - base;
    return true;
}

static uint64_t share_bar_read(struct vcpu *vcpu, void *dev, uint64_t off, unsigned size)
{
    struct shared_dev *s = dev;
    unsigned client;
    uint64_t reg, value = UINT64_MAX;
    if (client_of(vcpu->vm, &client) != s || !bar_offset(vcpu->vm, s, off, &reg))
        return value;
    spin_lock(&s->lock);
    value = mediator_read(&s->med, client, reg, size);
    spin_unlock(&s->lock);
    return value;
}

static void share_bar_write(struct vcpu *vcpu, void *dev, uint64_t off, unsigned size, uint64_t value)
{
    struct shared_dev *s = dev;
    unsigned client;
    uint64_t reg;
    if (client_of(vcpu->vm, &client) != s || !bar_offset(vcpu->vm, s, off, &reg))
        return;
    spin_lock(&s->lock);
    mediator_write(&s->med, client, reg, size, value);
    spin_unlock(&s->lock);
}

static const struct mmio_ops share_bar_ops = {
    .cause = EXIT_SHARE_MMIO,
    .read = share_bar_read,
    .write = share_bar_write,
};

void share_bus_master(struct vm *vm, bool on)
{
    unsigned client;
    struct shared_dev *s = client_of(vm, &client);
    if (!s)
        return;
    spin_lock(&s->lock);
    mediator_set_bus_master(&s->med, client, on);
    spin_unlock(&s->lock);
}

void share_vm_end(struct vm *vm)
{
    unsigned client;
    struct shared_dev *s = client_of(vm, &client);
    if (!s)
        return;
    spin_lock(&s->lock);
    mediator_detach(&s->med, client);
    mediator_step(&s->med);
    spin_unlock(&s->lock);
}

struct vm *share_fault_owner(uint16_t did)
{
    struct shared_dev *s = share_of(did);
    if (!s)
        return NULL;
    int owner = __atomic_load_n(&s->med.owner, __ATOMIC_RELAXED);
    return owner >= 0 ? s->clients[owner].vm : s->clients[0].vm;
}

void share_report(const struct vm *vm, struct exit_stats *total)
{
    unsigned client;
    struct shared_dev *s = client_of(vm, &client);
    if (!s)
        return;
    spin_lock(&s->lock);
    const struct mediator_client *m = &s->med.c[client];
    const struct share_client *c = &s->clients[client];
    total->mm[MM_SHARE_TRANSFERS] += m->transfers;
    total->mm[MM_SHARE_REFUSED] += m->refused;
    total->mm[MM_SHARE_SWITCHES] += m->switches_to;
    total->mm[MM_SHARE_SWITCH_COMMANDS] += c->switch_commands;
    total->mm[MM_SHARE_SWITCH_INSTRET] += c->switch_instret;
    total->mm[MM_SHARE_SAVES] += m->saves;
    total->mm[MM_SHARE_RESTORES] += m->restores;
    total->mm[MM_SHARE_REWRITES] += c->rewrites;
    total->mm[MM_SHARE_REWRITE_INSTRET] += c->rewrite_instret;
    spin_unlock(&s->lock);
}
