/*
 * viommu.c — the guest-visible RISC-V IOMMU (see viommu.h): registers,
 * the command queue, the fault queue and the device directory.
 */
#include "iommu/viommu/viommu.h"
#include "mm/pt.h"

/* capabilities bits (spec table "capabilities register fields"). */
#define CAP_SV39 (1ull << 9)
#define CAP_IGS_WSI (1ull << 28)
#define CAP_PAS_SHIFT 32

#define QUEUE_LOG2_MASK 0x1full
#define PPN_53_10 (((1ull << 44) - 1) << 10)
#define CQCSR_RW (IOMMU_CQCSR_CQEN | IOMMU_CQCSR_CIE)
#define CQCSR_W1C (IOMMU_CQCSR_CQMF | IOMMU_CQCSR_CMD_TO | IOMMU_CQCSR_CMD_ILL | IOMMU_CQCSR_FENCE_W_IP)
#define FQCSR_RW (IOMMU_FQCSR_FQEN | IOMMU_FQCSR_FIE)
#define FQCSR_W1C (IOMMU_FQCSR_FQMF | IOMMU_FQCSR_FQOF)
#define IPSR_W1C (IOMMU_IPSR_CIP | IOMMU_IPSR_FIP | IOMMU_IPSR_PMIP | IOMMU_IPSR_PIP)

/* Device-context fields the guest's IOMMU does not implement: setting
 * one makes the DC misconfigured.  tc keeps V and DTF only. */
#define TC_SUPPORTED (IOMMU_TC_V | IOMMU_TC_DTF)
#define TA_PSCID_FIELD ((uint64_t)IOMMU_PSCID_MAX << IOMMU_TA_PSCID_SHIFT)
#define ATP_MODE_BARE 0u
#define ATP_MODE_SV39 8u

/* ---- the guest's directory ---------------------------------------------- */

static void view_blocked(struct viommu_dc_view *out, unsigned cause)
{
    *out = (struct viommu_dc_view){ .kind = VIOMMU_DC_BLOCKED, .cause = cause };
}

/* Check the DC as the spec's "device-context configuration checks" do for
 * what this IOMMU has, and say what it gives. */
static void view_from_dc(const struct iommu_dc *dc, struct viommu_dc_view *out)
{
    if (!(dc->tc & IOMMU_TC_V)) {
        view_blocked(out, IOMMU_CAUSE_DDT_INVALID);
        return;
    }
    unsigned fsc_mode = iommu_atp_mode(dc->fsc);
    bool fsc_ok = fsc_mode == ATP_MODE_BARE || fsc_mode == ATP_MODE_SV39;
    if ((dc->tc & ~TC_SUPPORTED) || dc->iohgatp != 0 || (dc->ta & ~TA_PSCID_FIELD) || !fsc_ok ||
        (dc->fsc & ~(0xfull << IOMMU_ATP_MODE_SHIFT | IOMMU_ATP_PPN_MASK))) {
        view_blocked(out, IOMMU_CAUSE_DDT_MISCONFIGURED);
        return;
    }
    *out = (struct viommu_dc_view){
        .kind = fsc_mode == ATP_MODE_SV39 ? VIOMMU_DC_SV39 : VIOMMU_DC_BARE,
        .root = iommu_atp_root(dc->fsc),
        .pscid = iommu_ta_pscid(dc->ta),
        .dtf = dc->tc & IOMMU_TC_DTF,
    };
    if (out->kind == VIOMMU_DC_BARE)
        out->root = 0, out->pscid = 0;
}

void viommu_dc_view_of(const struct viommu *v, uint32_t device_id, struct viommu_dc_view *out)
{
    enum iommu_ddtp_mode mode = iommu_ddtp_mode(v->r.ddtp);
    if (mode == IOMMU_DDTP_OFF) {
        view_blocked(out, IOMMU_CAUSE_ALL_DISALLOWED);
        return;
    }
    if (mode == IOMMU_DDTP_BARE) {
        *out = (struct viommu_dc_view){ .kind = VIOMMU_DC_BARE };
        return;
    }
    if (!iommu_ddt_covers(mode, device_id, IOMMU_DC_BASE)) {
        view_blocked(out, IOMMU_CAUSE_TTYP_DISALLOWED);
        return;
    }
    gpaddr_t table = iommu_ddte_to_pa(v->r.ddtp);
    for (unsigned level = iommu_ddt_levels(mode) - 1; level > 0; level--) {
        uint64_t ddte;
        gpaddr_t at = table + 8ull * iommu_ddt_index(device_id, level, IOMMU_DC_BASE);
        if (!guest_mem_load(v->mem, at, 8, &ddte)) {
            view_blocked(out, IOMMU_CAUSE_DDT_LOAD_ACCESS);
            return;
        }
        if (!(ddte & IOMMU_DDTE_V)) {
            view_blocked(out, IOMMU_CAUSE_DDT_INVALID);
            return;
        }
        if (ddte & ~(PPN_53_10 | IOMMU_DDTE_V)) {
            view_blocked(out, IOMMU_CAUSE_DDT_MISCONFIGURED);
            return;
        }
        table = iommu_ddte_to_pa(ddte);
    }
    struct iommu_dc dc;
    if (!guest_mem_read(v->mem, table + iommu_dc_offset(device_id, IOMMU_DC_BASE), &dc, sizeof(dc))) {
        view_blocked(out, IOMMU_CAUSE_DDT_LOAD_ACCESS);
        return;
    }
    view_from_dc(&dc, out);
}

int viommu_device_index(const struct viommu *v, uint32_t device_id)
{
    for (unsigned i = 0; i < v->ndevs; i++)
        if (v->dids[i] == device_id)
            return (int)i;
    return -1;
}

static void host_result(struct viommu *v, int rc)
{
    if (rc != 0)
        v->n.host_errors++;
}

/* Read device i's DC again and tell the host what it now says. */
static void device_reload(struct viommu *v, unsigned i)
{
    viommu_dc_view_of(v, v->dids[i], &v->views[i]);
    v->n.dc_loads++;
    host_result(v, v->host->device_changed(v->host_arg, i, &v->views[i]));
}

static void devices_reload(struct viommu *v)
{
    for (unsigned i = 0; i < v->ndevs; i++)
        device_reload(v, i);
}

/* ---- the guest's first stage -------------------------------------------- */

bool viommu_walk(const struct guest_mem *mem, gpaddr_t root, uint64_t iova, struct viommu_leaf *leaf,
                 bool *table_outside_ram)
{
    *table_outside_ram = false;
    /* Sv39: bits 63:39 must all equal bit 38. */
    uint64_t high = iova >> 38;
    if (high != 0 && high != (UINT64_MAX >> 38))
        return false;
    gpaddr_t table = root;
    for (int level = PT_LEVELS - 1; level >= 0; level--) {
        pte_t pte;
        gpaddr_t at = table + 8ull * pt_index(PT_SV39, iova, (unsigned)level);
        if (!guest_mem_load(mem, at, 8, &pte)) {
            *table_outside_ram = true;
            return false;
        }
        if (!(pte & PTE_V) || (pte & PTE_HIGH_BITS) || ((pte & (PTE_R | PTE_W)) == PTE_W))
            return false;
        if (!pte_is_leaf(pte)) {
            if (level == 0 || (pte & (PTE_A | PTE_D | PTE_U)))
                return false;
            table = pte_to_pa(pte);
            continue;
        }
        uint64_t size = PAGE_SIZE << (9 * level);
        if (!IS_ALIGNED(pte_to_pa(pte), size))
            return false;        /* misaligned superpage */
        leaf->size = size;
        leaf->va = ALIGN_DOWN(iova, size);
        leaf->gpa = pte_to_pa(pte);
        leaf->pte = pte;
        return true;
    }
    return false;
}

/* A leaf lets a DMA through if it has the permission and, as this IOMMU
 * never sets A or D itself, already has A (and D for a write). */
static bool leaf_allows(pte_t pte, bool write)
{
    pte_t needs = write ? (PTE_W | PTE_A | PTE_D) : (PTE_R | PTE_A);
    return (pte & needs) == needs;
}

static unsigned access_cause(bool write)
{
    return write ? IOMMU_CAUSE_WRITE_ACCESS : IOMMU_CAUSE_READ_ACCESS;
}

unsigned viommu_fault_cause(const struct viommu *v, unsigned index, uint64_t iova, bool write)
{
    const struct viommu_dc_view *view = &v->views[index];
    switch (view->kind) {
    case VIOMMU_DC_BLOCKED:
        return view->cause;
    case VIOMMU_DC_BARE:
        return guest_mem_contains(v->mem, iova, 1) ? 0 : access_cause(write);
    case VIOMMU_DC_SV39:
        break;
    }
    struct viommu_leaf leaf;
    bool outside;
    if (!viommu_walk(v->mem, view->root, iova, &leaf, &outside))
        return outside ? access_cause(write) : (write ? IOMMU_CAUSE_WRITE_PAGE : IOMMU_CAUSE_READ_PAGE);
    if (!leaf_allows(leaf.pte, write))
        return write ? IOMMU_CAUSE_WRITE_PAGE : IOMMU_CAUSE_READ_PAGE;
    /* A translation to a hole in the guest's physical map: the access
     * fault a PMA check gives. */
    return guest_mem_contains(v->mem, leaf.gpa + (iova - leaf.va), 1) ? 0 : access_cause(write);
}

/* ---- the fault queue ---------------------------------------------------- */

static bool fq_usable(const struct viommu *v)
{
    return (v->r.fqcsr & IOMMU_FQCSR_FQON) && !(v->r.fqcsr & FQCSR_W1C);
}

static void fq_signal(struct viommu *v)
{
    if (v->r.fqcsr & IOMMU_FQCSR_FIE)
        v->r.ipsr |= IOMMU_IPSR_FIP;
}

static bool fq_push(struct viommu *v, const struct iommu_fault_record *rec)
{
    if (!fq_usable(v)) {
        v->n.faults_lost++;
        return false;
    }
    if (iommu_queue_full(v->r.fqh, v->r.fqt, v->fq_log2)) {
        v->r.fqcsr |= IOMMU_FQCSR_FQOF;
        v->n.faults_lost++;
        fq_signal(v);
        return false;
    }
    if (!guest_mem_write(v->mem, v->fq_base + (uint64_t)v->r.fqt * IOMMU_FAULT_RECORD_SIZE, rec,
                         sizeof(*rec))) {
        v->r.fqcsr |= IOMMU_FQCSR_FQMF;
        v->n.queue_memory_faults++;
        v->n.faults_lost++;
        fq_signal(v);
        return false;
    }
    v->r.fqt = iommu_queue_next(v->r.fqt, v->fq_log2);
    v->n.faults_recorded++;
    fq_signal(v);
    return true;
}

/* Causes DC.tc.DTF does not hide (spec: "faults that are not translation
 * faults" — the directory's own). */
static bool cause_survives_dtf(unsigned cause)
{
    return cause >= IOMMU_CAUSE_ALL_DISALLOWED;
}

static bool phys_is_write(const struct iommu_fault *phys)
{
    return iommu_fault_is_write(phys->cause) || phys->ttyp == IOMMU_TTYP_UNTRANSLATED_WRITE;
}

/* Nested: the machine walked the guest's table itself, so its cause is the
 * guest's, except that a step outside the VM's RAM (the second stage's
 * guest-page fault) is, to the guest, an access to nothing: an access
 * fault.  Otherwise the guest's own structures say (a fault they cannot
 * explain, from a translation the guest changed without invalidating,
 * keeps the cause of a first-stage page fault). */
unsigned viommu_cause_for(const struct viommu *v, unsigned index, const struct iommu_fault *phys)
{
    bool write = phys_is_write(phys);
    const struct viommu_dc_view *view = &v->views[index];
    if (v->mode == VIOMMU_NESTED && view->kind == VIOMMU_DC_SV39) {
        if (iommu_fault_is_guest_page(phys->cause))
            return access_cause(write);
        if (phys->cause < IOMMU_CAUSE_ALL_DISALLOWED)
            return phys->cause;
    }
    unsigned cause = viommu_fault_cause(v, index, phys->iotval, write);
    return cause ? cause : (write ? IOMMU_CAUSE_WRITE_PAGE : IOMMU_CAUSE_READ_PAGE);
}

bool viommu_record_fault(struct viommu *v, unsigned index, unsigned cause, const struct iommu_fault *phys)
{
    bool write = phys_is_write(phys);
    if (v->views[index].dtf && !cause_survives_dtf(cause))
        return false;
    struct iommu_fault f = {
        .cause = (uint16_t)cause,
        .ttyp = write ? IOMMU_TTYP_UNTRANSLATED_WRITE : IOMMU_TTYP_UNTRANSLATED_READ,
        .did = v->dids[index],
        .iotval = cause >= IOMMU_CAUSE_ALL_DISALLOWED ? 0 : phys->iotval,
    };
    struct iommu_fault_record rec;
    iommu_fault_encode(&f, &rec);
    return fq_push(v, &rec);
}

/* ---- the command queue -------------------------------------------------- */

enum cmd_result { CMD_DONE, CMD_ILLEGAL, CMD_MEMORY_FAULT };

static enum cmd_result cmd_iotinval(struct viommu *v, const struct iommu_cmd_fields *c)
{
    v->n.cmd_iotinval++;
    if (c->func == IOMMU_FUNC_IOTINVAL_GVMA) {
        /* The guest's IOMMU has no second stage, so nothing it caches is
         * tagged by a GSCID: a valid GVMA has nothing to drop. */
        return c->pscv ? CMD_ILLEGAL : CMD_DONE;
    }
    if (c->func != IOMMU_FUNC_IOTINVAL_VMA)
        return CMD_ILLEGAL;
    if (c->gv)
        return CMD_DONE;          /* a guest's GSCID names no translation here */
    host_result(v, v->host->invalidate(v->host_arg, c->pscv, c->pscid, c->av, c->addr));
    return CMD_DONE;
}

static enum cmd_result cmd_iofence(struct viommu *v, const struct iommu_cmd_fields *c)
{
    v->n.cmd_iofence++;
    if (c->func != IOMMU_FUNC_IOFENCE_C)
        return CMD_ILLEGAL;
    host_result(v, v->host->fence(v->host_arg));
    if (c->av && !guest_mem_store(v->mem, c->addr, 4, c->data))
        return CMD_MEMORY_FAULT;
    if ((c->fence_flags & IOMMU_FENCE_WSI) && (v->r.fctl & IOMMU_FCTL_WSI)) {
        v->r.cqcsr |= IOMMU_CQCSR_FENCE_W_IP;
        if (v->r.cqcsr & IOMMU_CQCSR_CIE)
            v->r.ipsr |= IOMMU_IPSR_CIP;
    }
    return CMD_DONE;
}

static enum cmd_result cmd_iodir(struct viommu *v, const struct iommu_cmd_fields *c)
{
    v->n.cmd_iodir++;
    if (c->func == IOMMU_FUNC_IODIR_INVAL_PDT)
        return c->dv ? CMD_DONE : CMD_ILLEGAL;   /* no process directories to drop */
    if (c->func != IOMMU_FUNC_IODIR_INVAL_DDT)
        return CMD_ILLEGAL;
    if (!c->dv) {
        devices_reload(v);
        return CMD_DONE;
    }
    int i = viommu_device_index(v, c->did);
    if (i >= 0)
        device_reload(v, (unsigned)i);
    return CMD_DONE;
}

static enum cmd_result cmd_execute(struct viommu *v, const struct iommu_cmd *cmd)
{
    struct iommu_cmd_fields c;
    iommu_cmd_decode(cmd, &c);
    switch (c.opcode) {
    case IOMMU_OP_IOTINVAL: return cmd_iotinval(v, &c);
    case IOMMU_OP_IOFENCE:  return cmd_iofence(v, &c);
    case IOMMU_OP_IODIR:    return cmd_iodir(v, &c);
    default:                return CMD_ILLEGAL;      /* ATS (none here) and the rest */
    }
}

static void cq_error(struct viommu *v, uint32_t bit)
{
    v->r.cqcsr |= bit;
    if (bit == IOMMU_CQCSR_CMD_ILL)
        v->n.cmd_illegal++;
    else
        v->n.queue_memory_faults++;
    if (v->r.cqcsr & IOMMU_CQCSR_CIE)
        v->r.ipsr |= IOMMU_IPSR_CIP;
}

/* Run the commands between cqh and cqt, in order, each completing before
 * the next (so IOFENCE.C has nothing left to wait for).  An illegal
 * command, or one that cannot be read, stops the queue with cqh on it. */
static void cq_process(struct viommu *v)
{
    if (!(v->r.cqcsr & IOMMU_CQCSR_CQON) || (v->r.cqcsr & (IOMMU_CQCSR_CMD_ILL | IOMMU_CQCSR_CQMF)))
        return;
    while (v->r.cqh != v->r.cqt) {
        struct iommu_cmd cmd;
        if (!guest_mem_read(v->mem, v->cq_base + (uint64_t)v->r.cqh * IOMMU_CMD_SIZE, &cmd, sizeof(cmd))) {
            cq_error(v, IOMMU_CQCSR_CQMF);
            return;
        }
        enum cmd_result r = cmd_execute(v, &cmd);
        if (r != CMD_DONE) {
            cq_error(v, r == CMD_ILLEGAL ? IOMMU_CQCSR_CMD_ILL : IOMMU_CQCSR_CQMF);
            return;
        }
        v->n.commands++;
        v->r.cqh = iommu_queue_next(v->r.cqh, v->cq_log2);
    }
}

/* ---- registers ---------------------------------------------------------- */

static gpaddr_t queue_base(uint64_t qb)
{
    return ((qb & PPN_53_10) >> 10) << 12;
}

static unsigned queue_log2(uint64_t qb)
{
    return (unsigned)(qb & QUEUE_LOG2_MASK) + 1;
}

static uint32_t queue_mask(unsigned log2)
{
    return (uint32_t)((1ull << log2) - 1);
}

/* What cqcsr and fqcsr have in common: an enable bit and an interrupt
 * enable the guest writes, error bits it clears by writing 1, and an "on"
 * bit the IOMMU sets when the queue starts, with the base latched and both
 * indexes at 0. */
struct queue_csr {
    uint32_t *csr, *head, *tail;
    const uint64_t *qb;
    unsigned *log2;
    gpaddr_t *base;
    uint32_t en, on, rw, w1c;
};

static void write_queue_csr(const struct queue_csr *q, uint32_t value)
{
    uint32_t csr = (*q->csr & ~q->rw & ~(value & q->w1c)) | (value & q->rw);
    bool on = csr & q->on;
    if ((value & q->en) && !on) {
        *q->log2 = queue_log2(*q->qb);
        *q->base = queue_base(*q->qb);
        *q->head = *q->tail = 0;
        csr = (csr & ~q->w1c) | q->on;
    } else if (!(value & q->en) && on) {
        csr &= ~q->on;
    }
    *q->csr = csr;
}

static void write_cqcsr(struct viommu *v, uint32_t value)
{
    const struct queue_csr q = {
        &v->r.cqcsr, &v->r.cqh, &v->r.cqt, &v->r.cqb, &v->cq_log2, &v->cq_base,
        IOMMU_CQCSR_CQEN, IOMMU_CQCSR_CQON, CQCSR_RW, CQCSR_W1C,
    };
    write_queue_csr(&q, value);
    cq_process(v);     /* clearing an error lets a stopped queue go on */
}

static void write_fqcsr(struct viommu *v, uint32_t value)
{
    const struct queue_csr q = {
        &v->r.fqcsr, &v->r.fqh, &v->r.fqt, &v->r.fqb, &v->fq_log2, &v->fq_base,
        IOMMU_FQCSR_FQEN, IOMMU_FQCSR_FQON, FQCSR_RW, FQCSR_W1C,
    };
    write_queue_csr(&q, value);
}

/* ddtp: Off and Bare may go to any supported mode, a directory mode only
 * to Off, Bare or itself (the spec's rule, as QEMU's model applies it);
 * 3-level is not supported, and an unsupported mode leaves ddtp as it was.
 * Whatever changes, every device is looked up afresh. */
static void write_ddtp(struct viommu *v, uint64_t value)
{
    enum iommu_ddtp_mode old = iommu_ddtp_mode(v->r.ddtp), mode = iommu_ddtp_mode(value);
    bool directory = mode == IOMMU_DDTP_1LVL || mode == IOMMU_DDTP_2LVL;
    bool allowed = mode == IOMMU_DDTP_OFF || mode == IOMMU_DDTP_BARE ||
                   (directory && (old == mode || old == IOMMU_DDTP_OFF || old == IOMMU_DDTP_BARE));
    if (!allowed)
        return;
    uint64_t ddtp = (value & PPN_53_10) | mode;
    if (ddtp == v->r.ddtp)
        return;
    v->r.ddtp = ddtp;
    devices_reload(v);
}

static bool queue_base_writable(uint32_t csr, uint32_t en, uint32_t on)
{
    return !(csr & (en | on));
}

static void write64(struct viommu *v, unsigned reg, uint64_t value)
{
    switch (reg) {
    case IOMMU_REG_DDTP:
        write_ddtp(v, value);
        break;
    case IOMMU_REG_CQB:
        if (queue_base_writable(v->r.cqcsr, IOMMU_CQCSR_CQEN, IOMMU_CQCSR_CQON))
            v->r.cqb = value & (PPN_53_10 | QUEUE_LOG2_MASK);
        break;
    case IOMMU_REG_FQB:
        if (queue_base_writable(v->r.fqcsr, IOMMU_FQCSR_FQEN, IOMMU_FQCSR_FQON))
            v->r.fqb = value & (PPN_53_10 | QUEUE_LOG2_MASK);
        break;
    default:
        break;     /* caps (read-only), the page-request queue (no ATS), reserved */
    }
}

static void write32(struct viommu *v, unsigned reg, uint32_t value)
{
    switch (reg) {
    case IOMMU_REG_CQT:
        if (v->r.cqcsr & IOMMU_CQCSR_CQON) {
            v->r.cqt = value & queue_mask(v->cq_log2);
            cq_process(v);
        }
        break;
    case IOMMU_REG_FQH:
        if (v->r.fqcsr & IOMMU_FQCSR_FQON)
            v->r.fqh = value & queue_mask(v->fq_log2);
        break;
    case IOMMU_REG_CQCSR:
        write_cqcsr(v, value);
        break;
    case IOMMU_REG_FQCSR:
        write_fqcsr(v, value);
        break;
    case IOMMU_REG_IPSR:
        v->r.ipsr &= ~(value & IPSR_W1C);
        break;
    default:
        break;     /* fctl (every field read-only here), cqh, fqt, reserved */
    }
}

static uint64_t read64(const struct viommu *v, unsigned reg)
{
    switch (reg) {
    case IOMMU_REG_CAPS: return v->r.caps;
    case IOMMU_REG_DDTP: return v->r.ddtp;
    case IOMMU_REG_CQB:  return v->r.cqb;
    case IOMMU_REG_FQB:  return v->r.fqb;
    default:             return UINT64_MAX;    /* not a 64-bit register */
    }
}

static uint32_t read32(const struct viommu *v, unsigned reg)
{
    switch (reg) {
    case IOMMU_REG_FCTL:  return v->r.fctl;
    case IOMMU_REG_CQH:   return v->r.cqh;
    case IOMMU_REG_CQT:   return v->r.cqt;
    case IOMMU_REG_FQH:   return v->r.fqh;
    case IOMMU_REG_FQT:   return v->r.fqt;
    case IOMMU_REG_CQCSR: return v->r.cqcsr;
    case IOMMU_REG_FQCSR: return v->r.fqcsr;
    case IOMMU_REG_IPSR:  return v->r.ipsr;
    default:              return 0;
    }
}

static bool is_reg64(unsigned reg)
{
    return reg == IOMMU_REG_CAPS || reg == IOMMU_REG_DDTP || reg == IOMMU_REG_CQB ||
           reg == IOMMU_REG_FQB || reg == IOMMU_REG_PQB || reg == IOMMU_REG_ICVEC;
}

uint64_t viommu_read(struct viommu *v, uint64_t off, unsigned size)
{
    v->n.reg_reads++;
    if (off >= VIOMMU_SIZE || (size != 4 && size != 8) || !IS_ALIGNED(off, size))
        return 0;
    unsigned base = (unsigned)ALIGN_DOWN(off, 8);
    if (is_reg64(base)) {
        uint64_t value = read64(v, base);
        value = value == UINT64_MAX ? 0 : value;
        return size == 8 ? value : (uint32_t)(value >> (8 * (off - base)));
    }
    return size == 4 ? read32(v, (unsigned)off) : 0;
}

void viommu_write(struct viommu *v, uint64_t off, unsigned size, uint64_t value)
{
    v->n.reg_writes++;
    if (off >= VIOMMU_SIZE || (size != 4 && size != 8) || !IS_ALIGNED(off, size))
        return;
    unsigned base = (unsigned)ALIGN_DOWN(off, 8);
    if (is_reg64(base)) {
        uint64_t old = read64(v, base);
        old = old == UINT64_MAX ? 0 : old;
        if (size == 4) {
            unsigned shift = 8 * (unsigned)(off - base);
            value = (old & ~(0xffffffffull << shift)) | ((value & 0xffffffffull) << shift);
        }
        write64(v, base, value);
        return;
    }
    if (size == 4)
        write32(v, (unsigned)off, (uint32_t)value);
}

void viommu_init(struct viommu *v, enum viommu_mode mode, const struct guest_mem *mem,
                 const uint32_t *dids, unsigned ndevs, const struct viommu_host_ops *host,
                 void *host_arg)
{
    ASSERT(ndevs <= VIOMMU_MAX_DEVICES);
    *v = (struct viommu){ .mode = mode, .mem = mem, .ndevs = ndevs, .host = host, .host_arg = host_arg };
    for (unsigned i = 0; i < ndevs; i++)
        v->dids[i] = dids[i];
    v->r.caps = IOMMU_VERSION_1_0 | CAP_SV39 | CAP_IGS_WSI | ((uint64_t)VIOMMU_PAS_BITS << CAP_PAS_SHIFT);
    v->r.fctl = IOMMU_FCTL_WSI;     /* wired only: read-only 1 */
    v->r.ddtp = IOMMU_DDTP_OFF;
    devices_reload(v);
}
