/*
 * ptdump.c — page-table dumps: a VM's guest page tables and the tables its
 * mode builds, printed as "ptdump ..." records (docs/ptdump.md) that
 * tools/umbra-ptdump turns into pictures.  A dump is taken from the
 * monitor (`ptdump VM`), at a VM's end (ptdump=end) or when a vCPU takes
 * the Nth exit of a cause (ptdump=CAUSE:N): after that exit is handled and,
 * for an sfence.vma, also as it traps, before the shadows are synced.
 * Those hold every shadow the mode keeps; the monitor's holds the ones in
 * use unless asked for all.
 *
 * Guest tables are read through the VM's memory map only, so whatever a
 * guest put in its satp and PTEs, a dump reads nothing outside its RAM.
 * Each tree is cut at PTDUMP_MAX_TABLES tables and each dump at
 * PTDUMP_MAX_DUMP_TABLES (a note says where).  Only Sv39 guest trees are
 * read.  One dump prints at a time (ptdump_lock).
 */
#include "core/monitor/monitor.h"
#include "core/console.h"
#include "core/lib/fmt.h"
#include "core/mmu/mmu.h"
#include "core/spinlock.h"
#include "mm/gwalk.h"
#include "mm/pt.h"

#define PTDUMP_MAX_TABLES 256          /* per tree */
#define PTDUMP_MAX_DUMP_TABLES 2048    /* per dump, every tree together */

static const struct umbra_config *ptdump_config;
/* One dump at a time, so two harts' records never interleave; a sleeplock
 * because the vCPU waiting for it must still answer shootdowns. */
static struct sleeplock ptdump_lock;
static unsigned ptdump_tables_left;    /* of this dump's budget (under ptdump_lock) */

void ptdump_init(const struct umbra_config *cfg)
{
    ptdump_config = cfg;
}

bool ptdump_watches_exits(void)
{
    for (unsigned i = 0; ptdump_config && i < ptdump_config->nptdumps; i++)
        if (ptdump_config->ptdumps[i].cause != CONFIG_PTDUMP_AT_END)
            return true;
    return false;
}

/* One tree, depth first: a table's valid entries, then its children. */
struct ptdump_tree {
    const char *attrs;      /* "side=... satp=..." naming the tree */
    pt_read_fn read;
    void *arg;
    unsigned tables;
    bool cut;               /* a budget ran out: the rest of the tree is left out */
};

static void ptdump_table(struct ptdump_tree *t, paddr_t table, unsigned level)
{
    if (t->tables == PTDUMP_MAX_TABLES || ptdump_tables_left == 0) {
        if (!t->cut)
            kprintf("ptdump note %s text=tree_cut_here\n", t->attrs);
        t->cut = true;
        return;
    }
    t->tables++;
    ptdump_tables_left--;
    kprintf("ptdump table %s level=%u addr=0x%lx\n", t->attrs, level, table);
    pte_t pte;
    for (unsigned i = 0; i < 512; i++)
        if (t->read(t->arg, table + i * sizeof(pte_t), &pte) && (pte & PTE_V))
            kprintf("ptdump pte index=%u value=0x%lx\n", i, pte);
    if (level == 0)
        return;
    /* Read again rather than kept: 4 KiB per level would not fit the
     * hart's trap stack, and the tables do not move meanwhile. */
    for (unsigned i = 0; i < 512; i++)
        if (t->read(t->arg, table + i * sizeof(pte_t), &pte) && (pte & PTE_V) && !pte_is_leaf(pte))
            ptdump_table(t, pte_to_pa(pte), level - 1);
}

void ptdump_guest_tree(const struct vm *vm, uint64_t satp, bool current)
{
    char attrs[48];
    gpaddr_t root = satp_is_bare(satp) ? 0 : (satp & SATP_PPN_MASK) << 12;
    kprintf("ptdump guest satp=0x%lx root=0x%lx current=%d\n", satp, root, current);
    /* Dumps read Sv39 only (a hap guest may use the host's Sv48 or Sv57). */
    if (!root || (satp >> SATP_MODE_SHIFT) != (SATP_MODE_SV39 >> SATP_MODE_SHIFT)) {
        if (root)
            kprintf("ptdump note side=guest satp=0x%lx text=not_sv39_not_dumped\n", satp);
        return;
    }
    fmt_snprintf(attrs, sizeof(attrs), "side=guest satp=0x%lx", satp);
    struct ptdump_tree t = { attrs, guest_mem_read_pte, (void *)&vm->mem, 0, false };
    ptdump_table(&t, root, PT_LEVELS - 1);
}

void ptdump_host_tree(const char *attrs, paddr_t root)
{
    if (!root)
        return;
    struct ptdump_tree t = { attrs, pt_read_host, NULL, 0, false };
    ptdump_table(&t, root, PT_LEVELS - 1);
}

void ptdump_vm(struct vm *vm, const char *when, bool all)
{
    struct vcpu *self = vcpu_current();
    sleeplock_acquire(&ptdump_lock, self && self->vm == vm ? self : NULL);
    ptdump_tables_left = PTDUMP_MAX_DUMP_TABLES;
    kprintf("ptdump begin vm=%s mode=%s when=%s\n", vm->config->name, vm->mmu->name, when);
    for (unsigned i = 0; i < vm->mem.count; i++) {
        const struct guest_mem_region *r = &vm->mem.regions[i];
        if (r->kind == GUEST_MEM_CONTIGUOUS)
            kprintf("ptdump region gpa=0x%lx size=0x%lx hpa=0x%lx\n", r->gpa, r->size, r->hpa);
    }
    vm->mmu->ptdump(vm, all);
    kprintf("ptdump end\n");
    sleeplock_release(&ptdump_lock);
}

void ptdump_at_vm_end(struct vm *vm)
{
    /* The vCPU ending the VM has not parked yet: its satp is read here. */
    struct vcpu *self = vcpu_current();
    if (self && self->vm == vm)
        self->satp_seen = vm->mmu->guest_satp(self);
    for (unsigned i = 0; ptdump_config && i < ptdump_config->nptdumps; i++)
        if (ptdump_config->ptdumps[i].cause == CONFIG_PTDUMP_AT_END) {
            ptdump_vm(vm, "end", true);
            return;
        }
}

static void ptdump_trigger_name(char *buf, size_t cap, unsigned trigger, const char *phase)
{
    const struct ptdump_trigger *t = &ptdump_config->ptdumps[trigger];
    fmt_snprintf(buf, cap, "%s#%lu-%s", exit_cause_name((enum exit_cause)t->cause), t->nth, phase);
}

/* Each trigger fires once per vCPU, when the vCPU's count of its cause
 * has reached N: `at` from inside the exit (sfence.vma, before its sync),
 * else at the end of the exit that reached it. */
void ptdump_check_exit(struct vcpu *vcpu, bool at)
{
    char when[48];
    uint8_t *done = at ? &vcpu->ptdump_done_at : &vcpu->ptdump_done_after;
    for (unsigned i = 0; i < ptdump_config->nptdumps; i++) {
        const struct ptdump_trigger *t = &ptdump_config->ptdumps[i];
        if (t->cause == CONFIG_PTDUMP_AT_END || (*done & (1u << i)) || vcpu->stats.full[t->cause] < t->nth)
            continue;
        if (at && !exit_cause_is_sfence((enum exit_cause)t->cause))
            continue;
        *done |= (uint8_t)(1u << i);
        vcpu->satp_seen = vcpu->vm->mmu->guest_satp(vcpu);
        ptdump_trigger_name(when, sizeof(when), i, at ? "at" : "after");
        ptdump_vm(vcpu->vm, when, true);
    }
}
